// libFuzzer target: the hixie-75/76 parsers — `HixieConnection` framing, the server's request checks
// (`HixieServerHandshake`, `HixieKey`) and the client's byte-at-a-time response reader (`HixieClientHandshake`).
//
// Input layout (see README.md):
//   byte 0    control: bit 0 mode (0 framing, 1 handshake), bit 1 draft (0 hixie-75, 1 hixie-76),
//             bit 2 role for framing (0 server, 1 client), bits 3-7 seed of the read sizes (0: one byte per read)
//   bytes 1…  framing: the peer's bytes after the handshake; handshake: a request head (+ key3) and, from the
//             same bytes, a server's response to a fixed client request
//
// Invariants checked (any violation aborts):
//   * no crash, no ASan report;
//   * framing: reads split as the seed says give the same actions as one read; every delivered message is
//     text, valid UTF-8 and within the limit (a client's U+FFFD replacements may triple invalid bytes); nothing follows a failure or a close; the input is drained;
//   * handshake: a validated hixie-76 request's key numbers are what `HixieKey.number` says and its response
//     ends in a 16-byte answer; the client never establishes on bytes that lack the draft's required lines,
//     and reading the response in pieces decides exactly as reading it whole.
import FuzzSupport
import NIOCore
import WebSocketEngine

let limit = 512

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard count > 0, let start else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let control = data[0]
    let draft: HixieDraft = control & 2 == 0 ? .hixie75 : .hixie76
    let seed = UInt64(control >> 3)
    let bytes = Array(data[1...])
    if control & 1 == 0 {
        fuzzFraming(bytes, draft: draft, role: control & 4 == 0 ? .server : .client, seed: seed)
    } else {
        fuzzServerHandshake(bytes, draft: draft)
        fuzzClientHandshake(bytes, draft: draft, seed: seed)
    }
    return 0
}

func readAll(_ connection: inout HixieConnection, _ chunks: [ArraySlice<UInt8>]) -> [WebSocketWireEvent] {
    var actions: [WebSocketWireEvent] = []
    var output = ByteBuffer()
    for chunk in chunks {
        var input = ByteBuffer(bytes: chunk)
        while let action = connection.read(from: &input, output: &output) {
            if case .message(let op, let payload) = action {
                actions.append(.message(op, ByteBuffer(bytes: Array(payload.readableBytesView))))
            } else {
                actions.append(action)
            }
        }
        invariant(input.readableBytes == 0, "input not drained")
    }
    return actions
}

func fuzzFraming(_ bytes: [UInt8], draft: HixieDraft, role: WebSocketRole, seed: UInt64) {
    var whole = HixieConnection(draft: draft, role: role, configuration: .init(maxMessageSize: limit))
    let once = readAll(&whole, [bytes[...]])
    var split = HixieConnection(draft: draft, role: role, configuration: .init(maxMessageSize: limit))
    let pieces = readAll(&split, readSizes(bytes, seed: seed))
    invariant(once == pieces, "split reads gave \(pieces), one read \(once) on \(hex(bytes))")
    for (i, action) in once.enumerated() {
        switch action {
        case .message(let op, let payload):
            invariant(op == .text, "non-text message")
            // The limit bounds wire bytes; a client's U+FFFD (3 bytes) may stand for each invalid byte.
            invariant(payload.readableBytes <= (role == .server ? limit : 3 * limit), "message over the limit")
            invariant(payload.withUnsafeReadableBytes { UTF8Validator.isValid($0) }, "delivered text is not UTF-8")
        case .failed, .closed:
            invariant(i == once.count - 1, "an action after a failure or close")
        case .ping, .pong:
            invariant(false, "hixie has no ping")
        case .messagePiece:
            invariant(false, "hixie does not stream messages")
        }
    }
    // Whatever was read, writing stays well-formed: text frames are 0x00 … 0xFF with no 0xFF inside.
    var output = ByteBuffer()
    var writer = HixieConnection(draft: draft, role: role)
    if writer.writeMessage(.binary, payload: ByteBuffer(bytes: bytes), into: &output) == .written {
        invariant(output.readableBytes == bytes.count + 2 && !bytes.contains(0xFF), "binary carried as text wrongly")
    } else {
        invariant(!bytes.withUnsafeBytes { UTF8Validator.isValid($0) }, "valid UTF-8 binary refused")
    }
}

func fuzzServerHandshake(_ bytes: [UInt8], draft: HixieDraft) {
    var parser = HTTPHeadParser(limits: .init())
    guard case .complete(let head, let length) = bytes.withUnsafeBytes({ parser.parseRequest($0) }) else { return }
    if let detected = HixieServerHandshake.draft(of: head) {
        invariant(head.headers["Sec-WebSocket-Key"] == nil && head.headers["Sec-WebSocket-Version"] == nil, "RFC 6455 taken for hixie")
        guard case .success(let request) = HixieServerHandshake.validate(head, draft: detected) else { return }
        let key3 = Array(bytes[length...].prefix(8))
        let response = HixieServerHandshake.response(for: request, secure: false, subprotocol: request.subprotocol, key3: key3)
        if detected == .hixie76 {
            invariant(request.keyNumbers.count == 2, "hixie-76 without its two numbers")
            invariant(try! HixieKey.number(of: head.headers["Sec-WebSocket-Key1"]!).get() == request.keyNumbers[0], "key1 number")
            let answer = HixieKey.answer(number1: request.keyNumbers[0], number2: request.keyNumbers[1], key3: key3)
            invariant(Array(response.readableBytesView.suffix(16)) == answer, "response does not end in the answer")
        }
    }
    for name in ["Sec-WebSocket-Key1", "Sec-WebSocket-Key2"] {
        if let key = head.headers[name], case .success(let n) = HixieKey.number(of: key) {
            invariant(key.contains(" "), "a key without spaces accepted")
            _ = n
        }
    }
}

func fuzzClientHandshake(_ bytes: [UInt8], draft: HixieDraft, seed: UInt64) {
    var rng = SplitMixGenerator(seed: 42)
    let url = try! WebSocketURL(parsing: "ws://example.com/demo")
    let fresh = HixieClientHandshake(draft: draft, url: url, origin: "http://example.com", subprotocol: "chat", generator: &rng)
    func decide(_ pieces: [ArraySlice<UInt8>]) -> (HixieClientHandshake.Step, Int) {
        var client = fresh
        var input = ByteBuffer()
        for piece in pieces {
            input.writeBytes(piece)
            let step = client.read(&input)
            if step != .needMoreData { return (step, input.readableBytes) }
        }
        return (.needMoreData, input.readableBytes)
    }
    let (once, leftOnce) = decide([bytes[...]])
    let (split, _) = decide(readSizes(bytes, seed: seed))
    invariant(once == split, "split response decided \(split), whole \(once)")
    if case .established(let response) = once {
        let text = String(decoding: bytes, as: UTF8.self)
        if draft == .hixie75 {
            invariant(text.hasPrefix("HTTP/1.1 101 Web Socket Protocol Handshake\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"),
                      "established without the fixed lines")
        }
        let prefix = draft == .hixie76 ? "sec-" : ""
        invariant(response.headers.filter { $0.name == prefix + "websocket-location" }.map(\.value) == ["ws://example.com/demo"],
                  "established with a wrong location")
        invariant(leftOnce <= bytes.count, "consumed more than given")
    }
}

/// `RandomNumberGenerator` over FuzzSupport's SplitMix, for the client's keys.
struct SplitMixGenerator: RandomNumberGenerator {
    var inner: SplitMix
    init(seed: UInt64) { inner = SplitMix(seed: seed) }
    mutating func next() -> UInt64 { inner.next() }
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
