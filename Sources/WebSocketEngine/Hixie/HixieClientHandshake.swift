import NIOCore

/// The client side of the hixie-75/76 opening handshake, as seed 001 §4.1 lays it down: the request byte for
/// byte (steps 5–10; hixie-76 adds its two keys and the 8-byte key3), then the server's response read one
/// byte at a time through the exact checks of steps 11–23 — the 44-byte status line and the 41-byte
/// `Upgrade`/`Connection` lines for hixie-75, header names folded to lowercase, `WebSocket-Origin`,
/// `WebSocket-Location` and `WebSocket-Protocol` each present exactly once and equal to what was asked —
/// and for hixie-76 draft-76's rules: status code 101, `Upgrade: WebSocket`, `Connection: Upgrade`, the
/// `Sec-` headers, and the 16-byte answer to the key challenge.
public struct HixieClientHandshake: Sendable {
    public enum Step: Sendable, Equatable {
        case needMoreData
        /// The connection must be failed, for this reason.
        case failed(String)
        /// The connection is established; bytes after the handshake (already consumed from the input up to
        /// here) are frames.
        case established(Response)
    }

    public struct Response: Sendable, Equatable {
        /// Every header of the response, names in lowercase, in order.
        public var headers: [HeaderField]
        /// `Set-Cookie` / `Set-Cookie2` values, for the caller's cookie store (step 23).
        public var cookies: [String] {
            headers.filter { $0.name == "set-cookie" || $0.name == "set-cookie2" }.map(\.value)
        }
    }

    public struct HeaderField: Sendable, Equatable {
        public var name: String
        public var value: String
    }

    private enum ReadState: Sendable, Equatable {
        case statusLine
        /// hixie-75: the 41 bytes of `Upgrade: WebSocket\r\nConnection: Upgrade\r\n`.
        case fixedLines(matched: Int)
        case name
        /// Right after the colon: one space may be skipped.
        case afterColon
        case value
        /// CR of a header line seen; LF must follow.
        case valueLF
        /// CR of the blank line seen; LF must follow.
        case finalLF
        /// hixie-76: the 16-byte challenge answer.
        case answer
        case done
    }

    public let draft: HixieDraft
    public let url: WebSocketURL
    /// The origin as sent (lowercased, step 7).
    public let origin: String
    public let subprotocol: String?
    /// The complete request, key3 included.
    public let request: [UInt8]
    private let expectedAnswer: [UInt8]

    private var readState: ReadState = .statusLine
    private var line: [UInt8] = []
    private var name: [UInt8] = []
    private var value: [UInt8] = []
    private var headers: [HeaderField] = []
    private var answer: [UInt8] = []
    private var consumed = 0
    /// Bound on the response head (the draft has none; a server that never ends its head must not make us
    /// buffer without end).
    public var maxResponseBytes = 16 << 10

    static let statusLine75 = Array("HTTP/1.1 101 Web Socket Protocol Handshake\r\n".utf8)
    static let fixedLines75 = Array("Upgrade: WebSocket\r\nConnection: Upgrade\r\n".utf8)

    /// - Parameters:
    ///   - extraHeaders: cookies and the like (step 9), each sent as one line.
    ///   - generator: the randomness for hixie-76's keys.
    public init(draft: HixieDraft, url: WebSocketURL, origin: String, subprotocol: String? = nil,
                extraHeaders: [(String, String)] = [], generator: inout some RandomNumberGenerator) {
        self.draft = draft
        self.url = url
        self.origin = origin.lowercased()
        self.subprotocol = subprotocol
        // Steps 5–8 (and draft-76's key fields before the blank line).
        var text = "GET \(url.resourceName) HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        text += "Host: \(url.hostHeader.lowercased())\r\n"
        text += "Origin: \(self.origin)\r\n"
        if let subprotocol {
            text += (draft == .hixie76 ? "Sec-WebSocket-Protocol: " : "WebSocket-Protocol: ") + subprotocol + "\r\n"
        }
        var key3: [UInt8] = []
        if draft == .hixie76 {
            let (key1, number1) = HixieKey.make(using: &generator)
            let (key2, number2) = HixieKey.make(using: &generator)
            text += "Sec-WebSocket-Key1: \(key1)\r\nSec-WebSocket-Key2: \(key2)\r\n"
            key3 = (0..<8).map { _ in UInt8.random(in: 0...255, using: &generator) }
            expectedAnswer = HixieKey.answer(number1: number1, number2: number2, key3: key3)
        } else {
            expectedAnswer = []
        }
        for (name, value) in extraHeaders { text += "\(name): \(value)\r\n" } // step 9
        text += "\r\n" // step 10
        request = Array(text.utf8) + key3
    }

    /// Reads response bytes from `input` (consuming only the handshake's) until the handshake is decided.
    public mutating func read(_ input: inout ByteBuffer) -> Step {
        while readState != .done, let byte = input.readInteger(as: UInt8.self) {
            consumed += 1
            guard consumed <= maxResponseBytes else { return .failed("the server's handshake is longer than \(maxResponseBytes) bytes") }
            if let failure = take(byte) { return .failed(failure) }
        }
        guard readState == .done else { return .needMoreData }
        if let failure = checkHeaders() { return .failed(failure) }
        return .established(Response(headers: headers))
    }

    /// One byte through steps 11–22; a non-nil result fails the connection.
    private mutating func take(_ byte: UInt8) -> String? {
        switch readState {
        case .statusLine: // step 11
            line.append(byte)
            guard byte == 0x0A else { return nil }
            return checkStatusLine()
        case .fixedLines(let matched): // step 13
            guard byte == Self.fixedLines75[matched] else {
                return "the server's handshake lacks the exact \"Upgrade: WebSocket\", \"Connection: Upgrade\" lines"
            }
            readState = matched + 1 == Self.fixedLines75.count ? .name : .fixedLines(matched: matched + 1)
        case .name: // step 16
            switch byte {
            case 0x0D:
                guard name.isEmpty else { return "a header name in the server's handshake ends in CR" }
                readState = .finalLF
            case 0x0A: return "a header name in the server's handshake contains LF"
            case 0x3A: readState = .afterColon
            case 0x41...0x5A: name.append(byte + 0x20)
            default: name.append(byte)
            }
        case .afterColon: // step 17
            readState = .value
            if byte != 0x20 { return take(byte) }
        case .value: // step 18
            switch byte {
            case 0x0D: readState = .valueLF
            case 0x0A: return "a header value in the server's handshake contains LF"
            default: value.append(byte)
            }
        case .valueLF: // steps 19–21
            guard byte == 0x0A else { return "a header line in the server's handshake has CR without LF" }
            headers.append(HeaderField(name: String(decoding: name, as: UTF8.self), value: String(decoding: value, as: UTF8.self)))
            name.removeAll()
            value.removeAll()
            readState = .name
        case .finalLF: // step 22
            guard byte == 0x0A else { return "the server's handshake has CR without LF after its headers" }
            readState = draft == .hixie76 ? .answer : .done
        case .answer:
            answer.append(byte)
            if answer.count == 16 { readState = .done }
        case .done:
            break
        }
        return nil
    }

    /// Step 12 (hixie-75: exactly the 44-byte line) or draft-76's (status code 101).
    private mutating func checkStatusLine() -> String? {
        defer { line.removeAll() }
        guard line.count >= 2, line[line.count - 2] == 0x0D else { return "the server's status line does not end in CRLF" }
        if draft == .hixie75, line == Self.statusLine75 {
            readState = .fixedLines(matched: 0)
            return nil
        }
        let spaces = line.indices.filter { line[$0] == 0x20 }
        guard spaces.count >= 2 else { return "the server's status line is not a status line" }
        let code = String(decoding: line[(spaces[0] + 1)..<spaces[1]], as: UTF8.self)
        if draft == .hixie76, code == "101" {
            readState = .name
            return nil
        }
        if code == "407" { return "the proxy wants authentication (407)" }
        let text = String(decoding: line.dropLast(2), as: UTF8.self)
        return draft == .hixie75 && code == "101"
            ? "the server's status line is not exactly \"HTTP/1.1 101 Web Socket Protocol Handshake\": \(text)"
            : "the server refused the handshake: \(text)"
    }

    /// Step 23 (and draft-76's equivalent, plus the challenge answer).
    private func checkHeaders() -> String? {
        func values(_ name: String) -> [String] { headers.filter { $0.name == name }.map(\.value) }
        if headers.contains(where: { $0.name.isEmpty }) { return "the server's handshake has a header without a name" }
        let prefix = draft == .hixie76 ? "sec-" : ""
        let origins = values(prefix + "websocket-origin")
        guard origins.count == 1 else { return "the server's handshake needs exactly one \(prefix)websocket-origin header" }
        guard origins[0] == origin else { return "the server accepts origin \(origins[0]), not \(origin)" }
        let locations = values(prefix + "websocket-location")
        guard locations.count == 1 else { return "the server's handshake needs exactly one \(prefix)websocket-location header" }
        guard locations[0] == url.description else { return "the server's location \(locations[0]) is not \(url.description)" }
        if let subprotocol {
            let protocols = values(prefix + "websocket-protocol")
            guard protocols.count == 1 else { return "the server did not agree to subprotocol \(subprotocol)" }
            guard protocols[0] == subprotocol else { return "the server chose subprotocol \(protocols[0]), not \(subprotocol)" }
        }
        if draft == .hixie76 {
            guard values("upgrade") == ["WebSocket"] else { return "the server's handshake lacks \"Upgrade: WebSocket\"" }
            guard values("connection").map({ $0.lowercased() }) == ["upgrade"] else {
                return "the server's handshake lacks \"Connection: Upgrade\""
            }
            guard answer == expectedAnswer else { return "the server's answer to the key challenge is wrong" }
        }
        return nil
    }
}
