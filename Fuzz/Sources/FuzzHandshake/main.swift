// libFuzzer target: the HTTP head parser (`HTTPHeadParser.parseRequest` / `parseResponse`) fed as a socket
// would feed it (growing prefixes), then the RFC 6455 handshake checks on complete heads
// (`ServerHandshake.validate`, `ExtensionOffer.parse`, `ClientHandshake.validate`).
//
// Input layout (see README.md):
//   byte 0    control: bits 0-1 parser limits variant, bits 2-7 seed of the read sizes (0: one byte per read)
//   bytes 1…  the bytes the peer sent; both parseRequest and parseResponse see them
//
// Invariants checked (any violation aborts):
//   * no crash, no ASan report;
//   * the incremental result equals a fresh parser's on the same prefix, and a fresh parser needs more data
//     on the previous prefix;
//   * a complete head has length ≤ bytes given, ≤ maxHeadSize, ≤ maxHeaderCount fields, and ends exactly
//     there (one byte less is not complete); more than maxHeadSize bytes without a head is a failure;
//   * header names are tokens and values have no control characters;
//   * an accepted upgrade's 101 response parses and is accepted by a client offering what was asked;
//     a rejection's response parses with its status and Content-Length;
//   * `ExtensionOffer.parse` round-trips through `headerValue`.
import FuzzSupport
import WebSocketEngine

let limitVariants: [HTTPHeadParser.Limits] = [
    HTTPHeadParser.Limits(), // what the transport uses by default: 16 KiB, 100 fields
    HTTPHeadParser.Limits(maxHeadSize: 256, maxHeaderCount: 8),
    HTTPHeadParser.Limits(maxHeadSize: 40, maxHeaderCount: 2),
    HTTPHeadParser.Limits(maxHeadSize: 1024, maxHeaderCount: 0),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard count > 0, let start else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let control = data[0]
    let limits = limitVariants[Int(control & 3)]
    let seed = UInt64(control >> 2)
    let bytes = UnsafeRawBufferPointer(rebasing: data[1...])

    var rng = SplitMix(seed: seed)
    let request = feed(bytes, limits: limits, seed: seed, rng: &rng) { p, b in p.parseRequest(b) }
    rng = SplitMix(seed: seed)
    let response = feed(bytes, limits: limits, seed: seed, rng: &rng) { p, b in p.parseResponse(b) }

    if case .complete(let head, _) = request { checkRequest(head) }
    if case .complete(let head, _) = response { checkResponse(head) }
    return 0
}

enum Outcome<Head: Hashable & Sendable>: Hashable {
    case needMoreData
    case complete(Head, length: Int)
    case failed(HTTPHeadParser.ParseError)

    init(_ r: HTTPHeadParser.Result<Head>) {
        switch r {
        case .needMoreData: self = .needMoreData
        case .complete(let h, let length): self = .complete(h, length: length)
        case .failed(let e): self = .failed(e)
        }
    }
}

func feed<Head: Hashable & Sendable>(
    _ bytes: UnsafeRawBufferPointer, limits: HTTPHeadParser.Limits, seed: UInt64, rng: inout SplitMix,
    parse: (inout HTTPHeadParser, UnsafeRawBufferPointer) -> HTTPHeadParser.Result<Head>
) -> Outcome<Head> {
    var parser = HTTPHeadParser(limits: limits)
    var end = 0, previous = 0
    var outcome = Outcome<Head>.needMoreData
    while true {
        previous = end
        end = seed == 0 ? min(bytes.count, end + 1) : min(bytes.count, end + rng.step(upTo: Int(seed) * 4))
        outcome = Outcome(parse(&parser, UnsafeRawBufferPointer(rebasing: bytes[..<end])))
        if outcome != .needMoreData || end == bytes.count { break }
    }
    var fresh = HTTPHeadParser(limits: limits)
    let oneShot = Outcome(parse(&fresh, UnsafeRawBufferPointer(rebasing: bytes[..<end])))
    invariant(oneShot == outcome, "incremental \(outcome) but one-shot \(oneShot) on \(end) bytes")
    if previous > 0 {
        var before = HTTPHeadParser(limits: limits)
        let earlier = Outcome(parse(&before, UnsafeRawBufferPointer(rebasing: bytes[..<previous])))
        invariant(earlier == .needMoreData, "fresh parser decided \(earlier) on \(previous) bytes; incremental needed more")
    }
    switch outcome {
    case .needMoreData:
        invariant(end <= limits.maxHeadSize, "\(end) bytes without a head and still needMoreData (limit \(limits.maxHeadSize))")
    case .complete(_, let length):
        invariant(length > 0 && length <= end, "complete length \(length) of \(end) bytes")
        invariant(length <= limits.maxHeadSize, "complete head of \(length) bytes over the limit \(limits.maxHeadSize)")
        var shorter = HTTPHeadParser(limits: limits)
        let cut = Outcome(parse(&shorter, UnsafeRawBufferPointer(rebasing: bytes[..<(length - 1)])))
        invariant(cut == .needMoreData, "the head minus its last byte gives \(cut)")
    case .failed:
        break
    }
    return outcome
}

func checkFields(_ fields: HTTPFields, limit: Int? = nil) {
    for f in fields {
        invariant(isHTTPToken(f.name), "header name \(f.name.debugDescription) is not a token")
        invariant(f.value.utf8.allSatisfy { ($0 >= 0x20 || $0 == 0x09) && $0 != 0x7F },
                  "header value \(f.value.debugDescription) has a control character")
        invariant(f.value.first != " " && f.value.last != " " && f.value.first != "\t" && f.value.last != "\t",
                  "header value \(f.value.debugDescription) not trimmed")
    }
}

func parseWhole(response text: String) -> (HTTPResponseHead, Int)? {
    var parser = HTTPHeadParser(limits: .init(maxHeadSize: 1 << 22, maxHeaderCount: 1 << 20))
    let utf8 = Array(text.utf8)
    return utf8.withUnsafeBytes { raw in
        if case .complete(let head, let length) = parser.parseResponse(raw) { return (head, length) }
        return nil
    }
}

func checkExtensionsRoundTrip(_ values: [String]) -> [ExtensionOffer]? {
    guard let offers = ExtensionOffer.parse(values) else { return nil }
    let again = ExtensionOffer.parse([offers.map(\.headerValue).joined(separator: ", ")])
    invariant(again == offers, "extension offers \(offers) re-parse as \(String(describing: again))")
    return offers
}

func checkRequest(_ head: HTTPRequestHead) {
    checkFields(head.headers)
    _ = head.path
    _ = head.query
    let offers = checkExtensionsRoundTrip(head.headers.values("Sec-WebSocket-Extensions"))
    switch ServerHandshake.validate(head) {
    case .success(let request):
        invariant(AcceptKey.isValidKey(request.key), "accepted an invalid key \(request.key.debugDescription)")
        invariant(offers == request.extensions, "validate's extensions differ from ExtensionOffer.parse's")
        invariant(request.subprotocols.allSatisfy(isHTTPToken), "non-token subprotocol accepted")
        let text = ServerHandshake.acceptResponse(for: request, subprotocol: request.subprotocols.first,
                                                  extensions: request.extensions)
        guard let (response, length) = parseWhole(response: text) else {
            invariant(false, "the 101 response does not parse: \(text.debugDescription)")
            return
        }
        invariant(length == text.utf8.count, "the 101 response parses to \(length) of \(text.utf8.count) bytes")
        invariant(response.status == 101, "101 response parsed with status \(response.status)")
        let url = WebSocketURL(secure: false, host: "example.com")
        let client = ClientHandshake(url: url, key: request.key, subprotocols: request.subprotocols,
                                     extensions: request.extensions)
        switch client.validate(response) {
        case .success(let negotiated):
            invariant(negotiated.subprotocol == request.subprotocols.first, "negotiated another subprotocol")
            invariant(negotiated.extensions == request.extensions, "negotiated other extensions")
        case .failure(let failure):
            invariant(false, "a client refuses the server's own 101 response: \(failure)")
        }
    case .failure(let rejection):
        let text = rejection.response
        guard let (response, length) = parseWhole(response: text) else {
            invariant(false, "the rejection response does not parse: \(text.debugDescription)")
            return
        }
        invariant(response.status == rejection.status, "rejection \(rejection.status) parsed as \(response.status)")
        let body = text.utf8.count - length
        invariant(response.headers["Content-Length"] == String(body),
                  "Content-Length \(response.headers["Content-Length"] ?? "nil") for a \(body)-byte body")
    }
}

func checkResponse(_ head: HTTPResponseHead) {
    checkFields(head.headers)
    invariant((0...999).contains(head.status), "status \(head.status) is not three digits")
    _ = checkExtensionsRoundTrip(head.headers.values("Sec-WebSocket-Extensions"))
    let url = WebSocketURL(secure: false, host: "server.example.com", resourceName: "/chat")
    let client = ClientHandshake(url: url, key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocols: ["chat", "superchat"],
                                 extensions: [ExtensionOffer(name: "permessage-deflate")])
    if case .success(let negotiated) = client.validate(head) {
        invariant(head.status == 101, "accepted status \(head.status)")
        invariant(head.headers["Sec-WebSocket-Accept"]?.trimmingCharacters() == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
                  "accepted a wrong Sec-WebSocket-Accept")
        invariant(negotiated.subprotocol == nil || client.subprotocols.contains(negotiated.subprotocol!),
                  "accepted an unoffered subprotocol")
    }
}

extension String {
    func trimmingCharacters() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
// The accept key of RFC 6455 §1.3: a sanity check of the build before fuzzing.
invariant(AcceptKey.compute(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=",
          "Sec-WebSocket-Accept of the RFC 6455 example key is \(AcceptKey.compute(forKey: "dGhlIHNhbXBsZSBub25jZQ=="))")
runFuzzer { data, size in fuzz(data, size) }
