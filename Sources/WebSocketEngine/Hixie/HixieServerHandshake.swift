import NIOCore

/// The server side of the hixie-75/76 opening handshake: telling the drafts apart from RFC 6455, checking the
/// request, and the exact response each draft's clients compare byte for byte.
public enum HixieServerHandshake {
    /// What a valid hixie request asks for.
    public struct Request: Sendable, Hashable {
        public var draft: HixieDraft
        /// `Host` as sent (with the port when it is not the default), for `WebSocket-Location`.
        public var host: String
        /// The request target: the resource name, with its query.
        public var resource: String
        public var origin: String?
        /// The one subprotocol the client asked for (`WebSocket-Protocol` / `Sec-WebSocket-Protocol`).
        public var subprotocol: String?
        /// hixie-76: the numbers Key1 and Key2 encode, in that order; empty for hixie-75.
        public var keyNumbers: [UInt32] = []

        init(draft: HixieDraft, host: String, resource: String, origin: String?, subprotocol: String?) {
            self.draft = draft
            self.host = host
            self.resource = resource
            self.origin = origin
            self.subprotocol = subprotocol
        }
    }

    /// The bytes of the key3 that follow a hixie-76 request head.
    public static let key3Length = 8

    /// Which draft an upgrade request speaks, or nil for RFC 6455 (or not an upgrade at all). A request with
    /// `Sec-WebSocket-Key` or `Sec-WebSocket-Version` is RFC 6455's; `Sec-WebSocket-Key1/Key2` mark hixie-76;
    /// `Upgrade: WebSocket` without either is hixie-75 (and -54/-55, which share its handshake).
    public static func draft(of head: HTTPRequestHead) -> HixieDraft? {
        let h = head.headers
        guard h["Sec-WebSocket-Key"] == nil, h["Sec-WebSocket-Version"] == nil,
              let upgrade = h["Upgrade"], upgrade.trimmingOWS().lowercased() == "websocket" else { return nil }
        return h["Sec-WebSocket-Key1"] != nil || h["Sec-WebSocket-Key2"] != nil ? .hixie76 : .hixie75
    }

    /// Checks a request `draft(of:)` recognised.
    public static func validate(_ head: HTTPRequestHead, draft: HixieDraft) -> Result<Request, HandshakeRejection> {
        guard head.method == "GET" else { return .failure(.methodNotAllowed(head.method)) }
        guard head.version == "HTTP/1.1" else { return .failure(.badRequest("a WebSocket upgrade needs HTTP/1.1")) }
        guard head.headers.containsToken("Connection", "upgrade") else {
            return .failure(.badRequest("Connection header lacks the Upgrade token"))
        }
        guard let host = head.headers["Host"], head.headers.count("Host") == 1, !host.isEmpty else {
            return .failure(.badRequest("missing or repeated Host header (needed for the WebSocket-Location)"))
        }
        let protocolHeader = draft == .hixie75 ? "WebSocket-Protocol" : "Sec-WebSocket-Protocol"
        var request = Request(draft: draft, host: host, resource: head.target, origin: head.headers["Origin"],
                              subprotocol: head.headers[protocolHeader])
        if draft == .hixie76 {
            var numbers: [UInt32] = []
            for name in ["Sec-WebSocket-Key1", "Sec-WebSocket-Key2"] {
                guard let key = head.headers[name], head.headers.count(name) == 1 else {
                    return .failure(.badRequest("hixie-76 request without exactly one \(name)"))
                }
                switch HixieKey.number(of: key) {
                case .success(let n): numbers.append(n)
                case .failure(let problem): return .failure(.badRequest("\(name) \(problem)"))
                }
            }
            request.keyNumbers = numbers
            if let length = head.headers["Content-Length"], length.trimmingOWS() != String(key3Length) {
                return .failure(.badRequest("a hixie-76 request carries 8 bytes after its head, not Content-Length \(length)"))
            }
        }
        return .success(request)
    }

    /// The response to an accepted request: seed 001 §5.1 for hixie-75 (status line "Web Socket Protocol
    /// Handshake", `WebSocket-Origin`, `WebSocket-Location`), draft-76 §5.2 for hixie-76 (`Sec-` headers, then
    /// the 16-byte answer to the key challenge; `key3` must then be given).
    public static func response(for request: Request, secure: Bool, subprotocol: String?, key3: [UInt8]?) -> ByteBuffer {
        let prefix = request.draft == .hixie76 ? "Sec-" : ""
        var text = request.draft == .hixie76
            ? "HTTP/1.1 101 WebSocket Protocol Handshake\r\n" : "HTTP/1.1 101 Web Socket Protocol Handshake\r\n"
        text += "Upgrade: WebSocket\r\nConnection: Upgrade\r\n"
        if let origin = request.origin { text += "\(prefix)WebSocket-Origin: \(origin)\r\n" }
        text += "\(prefix)WebSocket-Location: \(location(for: request, secure: secure))\r\n"
        if let subprotocol { text += "\(prefix)WebSocket-Protocol: \(subprotocol)\r\n" }
        text += "\r\n"
        var out = ByteBuffer(string: text)
        if request.draft == .hixie76, let key3, request.keyNumbers.count == 2 {
            out.writeBytes(HixieKey.answer(number1: request.keyNumbers[0], number2: request.keyNumbers[1], key3: key3))
        }
        return out
    }

    /// §3.2 "construct a Web Socket URL" from the request: the scheme, the `Host` the client sent (which
    /// carries the port exactly when it is not the scheme's default, §4.1 step 6), and the resource name.
    public static func location(for request: Request, secure: Bool) -> String {
        (secure ? "wss://" : "ws://") + request.host.lowercased() + request.resource
    }
}
