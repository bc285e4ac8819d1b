import WebSocketEngine

/// Errors surfaced to writers and connectors.
public enum WebSocketTransportError: Error, Sendable, CustomStringConvertible {
    /// The connection is closing or closed; the message was not sent.
    case connectionClosed
    case unsupportedURL(String)
    case handshakeFailed(String)
    /// The server answered the opening handshake with another status than 101 (403, 404, 503, …); `body` is the
    /// start of what it sent with it (at most 4 KiB).
    case handshakeRefused(status: Int, reason: String, body: String)
    case connectionEnded
    case tlsFailed(String)
    case proxyFailed(String)
    /// The connection's wire cannot carry the message (binary that is not UTF-8, on a hixie-75/76 connection).
    case messageNotRepresentable(wire: WebSocketWire)

    public var description: String {
        switch self {
        case .connectionClosed: return "the WebSocket is closing or closed"
        case .messageNotRepresentable(let wire): return "a \(wire.rawValue) connection carries text only; this binary message is not UTF-8"
        case .unsupportedURL(let why): return "unsupported URL: \(why)"
        case .handshakeFailed(let why): return "WebSocket handshake failed: \(why)"
        case .handshakeRefused(let status, let reason, let body):
            return "WebSocket handshake refused: server answered \(status) \(reason) instead of 101"
                + (body.isEmpty ? "" : ": \(body)")
        case .connectionEnded: return "the connection ended before the handshake completed"
        case .tlsFailed(let why): return why
        case .proxyFailed(let why): return why
        }
    }
}
