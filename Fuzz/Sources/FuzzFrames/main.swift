// libFuzzer target: the RFC 6455 frame parser (`FrameHeader.parse`) and connection state machine
// (`RFC6455Connection.read`), for both roles.
//
// Input layout (see README.md):
//   byte 0        control: bits 0-1 configuration variant, bit 2 permessage-deflate negotiated (RSV1 = compressed),
//                 bits 3-6 number N (0-15) of split bytes that follow, bit 7 we started the close
//                 handshake (`writeClose`) before reading
//   bytes 1...N   lengths (0-255) of the first N reads; the rest of the stream is the last read
//   bytes N+1...  the byte stream the peer sent
//
// Invariants checked (any violation aborts):
//   * no crash, no ASan report (zlib included: inflated output stays within maxMessageSize);
//   * `input` is fully drained after each read loop;
//   * after `.closed` the state is `.closed` (and `initiatedByPeer` is false exactly when we sent a close
//     first); at `.failed` the state is not `.closed`, `inputFailure` holds the code and reason, nothing
//     more is read, and the close frame the harness then sends with `writeClose` (as the I/O layer does,
//     unless a close was sent already) is the last thing in the output;
//   * a `.message` is text or binary, at most maxMessageSize bytes, and valid UTF-8 when text;
//     ping/pong payloads are at most 125 bytes;
//   * the result (actions, output bytes, final state) does not depend on how the stream was split;
//   * with `streamedPieceBytes` set, the pieces make up exactly the messages of the unstreamed run (a failure
//     drops the message in progress either way), with the same output and final state;
//   * the output (pongs, close replies) parses cleanly at a peer of the other role: one pong per ping with
//     the same payload, then the close frame carrying the failure code or the echoed close code; once we
//     sent a close, nothing at all follows it;
//   * every delivered message/ping written back by a peer reads back identically;
//   * `FrameHeader.parse` agrees with re-encoding (`write(into:)`, `encodedLength`) and asks for more data
//     on every proper prefix of a header.
import FuzzSupport
import NIOCore
import WebSocketEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard count > 0, let start else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let control = data[0]
    let splitCount = min(Int(control >> 3) & 15, count - 1)
    let closeFirst = control & 0x80 != 0
    let lengths = data[1 ..< 1 + splitCount].map(Int.init)
    let stream = UnsafeRawBufferPointer(rebasing: data[(1 + splitCount)...])

    checkHeaderParse(stream)

    var configuration = RFC6455Connection.Configuration(maxFrameSize: 64 << 10, maxMessageSize: 64 << 10,
                                                        retainedBufferCapacity: 1 << 10)
    switch control & 3 {
    case 0: break // what `wsgate serve` configures: frame limit = message limit
    case 1: configuration.maxFrameSize = 1 << 10 // fragments must be small, messages may be larger
    case 2: configuration.maxFrameSize = Int.max // no frame limit of its own: only the message limit
    default: configuration.maxMessageSize = 125
    }
    let deflate = control & 4 != 0

    var chunks: [UnsafeRawBufferPointer] = []
    var offset = 0
    for length in lengths {
        let n = min(length, stream.count - offset)
        chunks.append(UnsafeRawBufferPointer(rebasing: stream[offset ..< offset + n]))
        offset += n
    }
    chunks.append(UnsafeRawBufferPointer(rebasing: stream[offset...]))

    for role in [WebSocketRole.server, .client] {
        let split = run(role: role, configuration: configuration, deflate: deflate, closeFirst: closeFirst, chunks: chunks)
        if chunks.count > 1 {
            let whole = run(role: role, configuration: configuration, deflate: deflate, closeFirst: closeFirst, chunks: [stream])
            invariant(split.actions == whole.actions,
                      "\(role): actions depend on the split \(lengths): \(split.actions) vs \(whole.actions)")
            invariant(split.output == whole.output, "\(role): output depends on the split \(lengths)")
            invariant(split.state == whole.state, "\(role): final state depends on the split")
        }
        // Streaming changes how a large message is delivered, never what: the pieces make up the same messages.
        var streaming = configuration
        streaming.streamedPieceBytes = 256
        let streamed = run(role: role, configuration: streaming, deflate: deflate, closeFirst: closeFirst, chunks: chunks)
        invariant(streamed.actions == split.actions, "\(role): streamed pieces differ: \(streamed.actions) vs \(split.actions)")
        invariant(streamed.output == split.output && streamed.state == split.state, "\(role): streaming changes the output")
        checkOutput(role: role, closeFirst: closeFirst, split)
        checkRewrite(role: role, configuration: configuration, deflate: deflate, split.actions)
    }
    return 0
}

struct Run {
    var actions: [WebSocketWireEvent] = []
    var output = ByteBuffer()
    var state: WebSocketConnectionState = .open
    /// Output bytes of the close frame we sent before reading (closeFirst).
    var ourClose = 0
}

/// The close we start with when the control byte says so.
let ourCloseFrame = CloseFrame(code: .goingAway, reason: "fuzz")

/// A fresh permessage-deflate codec (each connection owns its zlib streams), compressing every message.
func codec(_ deflate: Bool, role: WebSocketRole) -> PerMessageDeflateCodec? {
    deflate ? PerMessageDeflateCodec(parameters: .init(), role: role, tuning: .init(minimumMessageSize: 0)) : nil
}

func run(role: WebSocketRole, configuration: RFC6455Connection.Configuration, deflate: Bool, closeFirst: Bool,
         chunks: [UnsafeRawBufferPointer]) -> Run {
    var connection = RFC6455Connection(role: role, configuration: configuration, compression: codec(deflate, role: role),
                                       maskSeed: 0x5EED)
    var result = Run()
    /// The message whose pieces are arriving (streaming runs).
    var streamed: ByteBuffer?
    if closeFirst {
        invariant(connection.writeClose(ourCloseFrame, into: &result.output) == .written, "\(role): writeClose refused at start")
        invariant(connection.state == .closeSent, "\(role): state \(connection.state) after writeClose")
        result.ourClose = result.output.readableBytes
    }
    for chunk in chunks {
        var input = ByteBuffer(bytes: chunk)
        var reads = 0
        while var action = connection.read(from: &input, output: &result.output) {
            reads += 1
            invariant(reads <= chunk.count + 1, "\(role): more actions than bytes in one read")
            if case .messagePiece(let opcode, var piece, let isFirst, let isLast) = action {
                // Pieces are checked as the message they make up (which must equal the unstreamed run's).
                invariant(configuration.streamedPieceBytes != nil, "\(role): a piece without streaming")
                invariant(isFirst == (streamed == nil), "\(role): piece isFirst \(isFirst) with \(streamed?.readableBytes ?? -1) bytes before")
                streamed = streamed ?? ByteBuffer()
                streamed!.writeBuffer(&piece)
                guard isLast else { continue }
                action = .message(opcode, streamed!)
                streamed = nil
            }
            switch action {
            case .message(let opcode, let payload):
                invariant(opcode == .text || opcode == .binary, "\(role): message with opcode \(opcode)")
                invariant(payload.readableBytes <= configuration.maxMessageSize,
                          "\(role): message of \(payload.readableBytes) bytes over the limit \(configuration.maxMessageSize)")
                if opcode == .text {
                    invariant(String(validating: payload.readableBytesView, as: UTF8.self) != nil,
                              "\(role): text message is not UTF-8: \(hex(payload.readableBytesView))")
                }
            case .ping(let payload), .pong(let payload):
                invariant(payload.readableBytes <= 125, "\(role): control payload of \(payload.readableBytes) bytes")
            case .messagePiece:
                break // merged above
            case .closed(_, let initiatedByPeer):
                invariant(connection.state == .closed, "\(role): state \(connection.state) after .closed")
                invariant(initiatedByPeer == !closeFirst, "\(role): .closed(initiatedByPeer: \(initiatedByPeer))")
            case .failed(let code, let reason):
                // Since 422583f the engine stops reading and leaves the close frame to the I/O layer, which
                // may first answer messages delivered before the failure; it then calls writeClose.
                invariant(connection.inputFailure == CloseFrame(code: code, reason: reason),
                          "\(role): inputFailure \(String(describing: connection.inputFailure)) after .failed(\(code))")
                let before = connection.state
                invariant(before == (closeFirst ? .closeSent : .open), "\(role): state \(before) at .failed(\(code))")
                invariant(connection.writeClose(connection.inputFailure!, into: &result.output).isWritten == (before == .open),
                          "\(role): writeClose after .failed in state \(before)")
                invariant(connection.state == .closeSent, "\(role): state \(connection.state) after writeClose")
            }
            result.actions.append(action)
        }
        invariant(input.readableBytes == 0, "\(role): \(input.readableBytes) input bytes left after the read loop")
    }
    result.state = connection.state
    if result.actions.contains(where: { if case .closed = $0 { true } else if case .failed = $0 { true } else { false } }) {
        invariant(result.actions.count(where: { if case .closed = $0 { true } else if case .failed = $0 { true } else { false } }) == 1,
                  "\(role): more than one terminal action")
        switch result.actions.last! {
        case .closed, .failed: break
        default: invariant(false, "\(role): an action after the connection closed")
        }
    }
    return result
}

/// The frames the engine wrote itself must be what the peer expects: pongs echoing the pings, then the close.
func checkOutput(role: WebSocketRole, closeFirst: Bool, _ run: Run) {
    var peer = RFC6455Connection(role: role == .server ? .client : .server)
    var output = run.output
    if closeFirst {
        // Our close, and nothing after it: no pongs, no second close, no reply to the peer's close.
        invariant(output.readableBytes == run.ourClose,
                  "\(role): \(output.readableBytes - run.ourClose) bytes written after our close frame")
        var scratch = ByteBuffer()
        let first = peer.read(from: &output, output: &scratch)
        invariant(first == .closed(ourCloseFrame, initiatedByPeer: true), "\(role): our close reads as \(String(describing: first))")
        return
    }
    var scratch = ByteBuffer()
    var seen: [WebSocketWireEvent] = []
    while let action = peer.read(from: &output, output: &scratch) { seen.append(action) }

    var expected: [WebSocketWireEvent] = []
    for action in run.actions {
        switch action {
        case .ping(let payload): expected.append(.pong(payload))
        case .failed(let code, let reason):
            // The close frame carries the code and the reason cut to fit the frame at a character boundary.
            var body = ByteBuffer()
            CloseFrame(code: code, reason: reason).encode(into: &body)
            expected.append(.closed(CloseFrame(code: code, reason: body.getString(at: 2, length: body.readableBytes - 2) ?? ""),
                                    initiatedByPeer: true))
        case .closed(let frame, initiatedByPeer: true):
            expected.append(.closed(CloseFrame(code: frame.code ?? .normalClosure), initiatedByPeer: true))
        default: break
        }
    }
    invariant(seen == expected, "\(role): peer read \(seen) from the output, expected \(expected)")
}

/// Messages and pings re-sent by a peer of the other role must read back identically.
func checkRewrite(role: WebSocketRole, configuration: RFC6455Connection.Configuration, deflate: Bool,
                  _ actions: [WebSocketWireEvent]) {
    let writerRole: WebSocketRole = role == .server ? .client : .server
    var writer = RFC6455Connection(role: writerRole, compression: codec(deflate, role: writerRole), maskSeed: 7)
    var wire = ByteBuffer()
    var expected: [WebSocketWireEvent] = []
    for action in actions {
        switch action {
        case .message(let opcode, let payload):
            invariant(writer.writeMessage(opcode, payload: payload, into: &wire) == .written, "writeMessage refused")
            expected.append(action)
        case .ping(let payload):
            invariant(writer.writePing(payload, into: &wire) == .written, "writePing refused")
            expected.append(action)
        case .pong(let payload):
            invariant(writer.writePong(payload, into: &wire) == .written, "writePong refused")
            expected.append(action)
        default: break
        }
    }
    var readerConfiguration = configuration
    // Compressed frames of incompressible data are a few bytes longer than the message itself.
    readerConfiguration.maxFrameSize = deflate ? Int.max : configuration.maxMessageSize
    readerConfiguration.allowedReservedBits = 0
    var reader = RFC6455Connection(role: role, configuration: readerConfiguration, compression: codec(deflate, role: role))
    var scratch = ByteBuffer()
    var seen: [WebSocketWireEvent] = []
    while let action = reader.read(from: &wire, output: &scratch) { seen.append(action) }
    if seen != expected {
        let i = (0..<min(seen.count, expected.count)).first { seen[$0] != expected[$0] } ?? min(seen.count, expected.count)
        invariant(false, "\(role): re-sent frames read back differently at action \(i) of \(expected.count) (read \(seen.count)): "
                  + "\(i < seen.count ? "\(seen[i])" : "nothing") vs expected \(i < expected.count ? "\(expected[i])" : "nothing")")
    }
}

func checkHeaderParse(_ bytes: UnsafeRawBufferPointer) {
    let result = FrameHeader.parse(bytes)
    invariant(FrameHeader.parse(ByteBuffer(bytes: bytes)) == result, "ByteBuffer and raw-pointer parses differ")
    switch result {
    case .needMoreData:
        invariant(bytes.count < FrameHeader.maximumLength, "needMoreData with \(bytes.count) bytes")
    case .invalid:
        invariant(bytes.count >= 4, "invalid header decided on fewer than 4 bytes")
    case .header(let header, let length):
        invariant(length >= 2 && length <= FrameHeader.maximumLength && length <= bytes.count,
                  "header length \(length) of \(bytes.count) bytes")
        invariant(header.payloadLength >= 0, "negative payload length")
        invariant(header.encodedLength == length, "encodedLength \(header.encodedLength) != parsed \(length)")
        var encoded = ByteBuffer()
        header.write(into: &encoded)
        invariant(Array(encoded.readableBytesView) == Array(bytes[..<length]),
                  "header re-encodes as \(hex(encoded.readableBytesView)), read \(hex(bytes[..<length]))")
        for prefix in 0 ..< length {
            invariant(FrameHeader.parse(UnsafeRawBufferPointer(rebasing: bytes[..<prefix])) == .needMoreData,
                      "a \(prefix)-byte prefix of a \(length)-byte header is not needMoreData")
        }
    }
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
