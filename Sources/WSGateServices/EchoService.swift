import WebSocketAPI

/// Sends every message back to its sender, text as text and binary as binary.
///
/// Inline on the connection's event loop: the reply is queued in the same read batch and leaves in the
/// batch's single flush.
public struct EchoService: WebSocketService {
    public init() {}

    public func makeHandler() -> any WebSocketHandler { EchoHandler.shared }
}

/// Stateless, so one instance serves every connection.
final class EchoHandler: WebSocketHandler, Sendable {
    static let shared = EchoHandler()

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        connection.send(message)
    }
}
