/// The server's side of the RFC 6455 opening handshake (§4.2).
public enum ServerHandshake {
    /// A valid RFC 6455 upgrade request, ready for a service to accept or refuse.
    public struct Request: Sendable, Hashable {
        public var head: HTTPRequestHead
        public var key: String
        /// Subprotocols the client offered, in its order of preference.
        public var subprotocols: [String]
        /// Extensions the client offered, in its order of preference.
        public var extensions: [ExtensionOffer]
        /// `Origin` (browsers send it; §10.2: the server decides whether to accept it).
        public var origin: String?
        public var host: String
    }

    /// Whether the request asks for a WebSocket at all (`Upgrade: websocket`), whatever its version.
    public static func isUpgradeRequest(_ head: HTTPRequestHead) -> Bool {
        head.headers.containsToken("Upgrade", "websocket")
    }

    /// Checks an upgrade request against §4.2.1.
    public static func validate(_ head: HTTPRequestHead) -> Result<Request, HandshakeRejection> {
        guard head.method == "GET" else { return .failure(.methodNotAllowed(head.method)) }
        guard head.version == "HTTP/1.1" else { return .failure(.badRequest("a WebSocket upgrade needs HTTP/1.1")) }
        guard let host = head.headers["Host"], head.headers.count("Host") == 1 else {
            return .failure(.badRequest("missing or repeated Host header"))
        }
        guard isUpgradeRequest(head) else { return .failure(.upgradeRequired("not a WebSocket upgrade request")) }
        guard head.headers.containsToken("Connection", "upgrade") else {
            return .failure(.badRequest("Connection header lacks the Upgrade token"))
        }
        let versions = head.headers.values("Sec-WebSocket-Version")
        guard versions.count == 1, versions[0].trimmingOWS() == "13" else {
            return .failure(.upgradeRequired("unsupported Sec-WebSocket-Version \(versions.joined(separator: ","))"))
        }
        let keys = head.headers.values("Sec-WebSocket-Key")
        guard keys.count == 1, AcceptKey.isValidKey(keys[0]) else {
            return .failure(.badRequest("Sec-WebSocket-Key must be the base64 of 16 bytes"))
        }
        let subprotocols = head.headers.commaSeparated("Sec-WebSocket-Protocol")
        guard subprotocols.allSatisfy(isHTTPToken) else {
            return .failure(.badRequest("Sec-WebSocket-Protocol elements must be tokens"))
        }
        guard let extensions = ExtensionOffer.parse(head.headers.values("Sec-WebSocket-Extensions")) else {
            return .failure(.badRequest("malformed Sec-WebSocket-Extensions"))
        }
        return .success(Request(head: head, key: keys[0], subprotocols: subprotocols, extensions: extensions,
                                origin: head.headers["Origin"], host: host))
    }

    /// The 101 response accepting `request`.
    public static func acceptResponse(
        for request: Request, subprotocol: String?, extensions: [ExtensionOffer] = [], extraHeaders: HTTPFields = HTTPFields()
    ) -> String {
        var fields = HTTPFields([
            ("Upgrade", "websocket"),
            ("Connection", "Upgrade"),
            ("Sec-WebSocket-Accept", AcceptKey.compute(forKey: request.key)),
        ])
        if let subprotocol { fields.add("Sec-WebSocket-Protocol", subprotocol) }
        if !extensions.isEmpty {
            fields.add("Sec-WebSocket-Extensions", extensions.map(\.headerValue).joined(separator: ", "))
        }
        for f in extraHeaders { fields.add(f.name, f.value) }
        return HTTPResponseHead(status: 101, reason: "Switching Protocols", headers: fields).serialized()
    }
}
