/// The client's side of the RFC 6455 opening handshake (§4.1).
public struct ClientHandshake: Sendable, Hashable {
    public var url: WebSocketURL
    /// The `Sec-WebSocket-Key`: base64 of 16 random bytes, new for every connection.
    public var key: String
    public var subprotocols: [String]
    public var extensions: [ExtensionOffer]
    public var origin: String?
    /// Extra request headers (cookies, authorization, …), sent after the protocol's own.
    public var headers: HTTPFields

    public init(url: WebSocketURL, key: String, subprotocols: [String] = [], extensions: [ExtensionOffer] = [],
                origin: String? = nil, headers: HTTPFields = HTTPFields()) {
        self.url = url
        self.key = key
        self.subprotocols = subprotocols
        self.extensions = extensions
        self.origin = origin
        self.headers = headers
    }

    /// What the server agreed to.
    public struct Negotiated: Sendable, Hashable {
        public var subprotocol: String?
        public var extensions: [ExtensionOffer]
        public var response: HTTPResponseHead
    }

    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case unexpectedStatus(Int, String)
        case missingUpgrade
        case missingConnectionUpgrade
        case wrongAccept(expected: String, got: String?)
        case unofferedSubprotocol(String)
        case unofferedExtension(String)
        case malformedExtensions

        public var description: String {
            switch self {
            case .unexpectedStatus(let s, let r): return "server answered \(s) \(r) instead of 101"
            case .missingUpgrade: return "response lacks Upgrade: websocket"
            case .missingConnectionUpgrade: return "response lacks Connection: Upgrade"
            case .wrongAccept(let e, let g): return "Sec-WebSocket-Accept is \(g ?? "missing"), expected \(e)"
            case .unofferedSubprotocol(let p): return "server chose subprotocol \(p), which was not offered"
            case .unofferedExtension(let e): return "server chose extension \(e), which was not offered"
            case .malformedExtensions: return "malformed Sec-WebSocket-Extensions in the response"
            }
        }
    }

    /// The request bytes.
    public var request: String {
        var out = "GET \(url.resourceName) HTTP/1.1\r\n"
        out += "Host: \(url.hostHeader)\r\n"
        out += "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        out += "Sec-WebSocket-Key: \(key)\r\nSec-WebSocket-Version: 13\r\n"
        if !subprotocols.isEmpty { out += "Sec-WebSocket-Protocol: \(subprotocols.joined(separator: ", "))\r\n" }
        if !extensions.isEmpty { out += "Sec-WebSocket-Extensions: \(extensions.map(\.headerValue).joined(separator: ", "))\r\n" }
        if let origin { out += "Origin: \(origin)\r\n" }
        for f in headers { out += "\(f.name): \(f.value)\r\n" }
        return out + "\r\n"
    }

    /// Checks the server's response against §4.1 (the client must fail on any mismatch).
    public func validate(_ response: HTTPResponseHead) -> Result<Negotiated, Failure> {
        guard response.status == 101 else { return .failure(.unexpectedStatus(response.status, response.reason)) }
        guard response.headers.containsToken("Upgrade", "websocket") else { return .failure(.missingUpgrade) }
        guard response.headers.containsToken("Connection", "upgrade") else { return .failure(.missingConnectionUpgrade) }
        let expected = AcceptKey.compute(forKey: key)
        let accept = response.headers["Sec-WebSocket-Accept"]?.trimmingOWS()
        guard accept == expected else { return .failure(.wrongAccept(expected: expected, got: accept)) }
        let chosen = response.headers.commaSeparated("Sec-WebSocket-Protocol")
        if let protocolName = chosen.first {
            guard chosen.count == 1, subprotocols.contains(protocolName) else {
                return .failure(.unofferedSubprotocol(chosen.joined(separator: ",")))
            }
        }
        guard let accepted = ExtensionOffer.parse(response.headers.values("Sec-WebSocket-Extensions")) else {
            return .failure(.malformedExtensions)
        }
        for e in accepted where !extensions.contains(where: { $0.name == e.name }) {
            return .failure(.unofferedExtension(e.name))
        }
        return .success(Negotiated(subprotocol: chosen.first, extensions: accepted, response: response))
    }
}
