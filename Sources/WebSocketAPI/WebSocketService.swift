import WebSocketEngine

/// What a service says to an opening handshake.
public enum ServiceDecision: Sendable {
    /// Open the WebSocket, with this subprotocol (nil for none).
    case accept(subprotocol: String?)
    /// Refuse with an HTTP response.
    case reject(HandshakeRejection)
}

/// A service mounted on a path: decides about handshakes and makes one handler per connection.
public protocol WebSocketService: Sendable {
    /// Decides whether to open a WebSocket for this request. `offeredSubprotocols` is the client's list in
    /// its order of preference. The default accepts without a subprotocol.
    func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision

    /// A handler for a new connection, called on its event loop.
    func makeHandler() -> any WebSocketHandler
}

extension WebSocketService {
    public func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
        .accept(subprotocol: nil)
    }
}
