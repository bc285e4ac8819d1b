import NIOCore
import WebSocketEngine

/// One open WebSocket, whatever wire carries it (DESIGN.md layer 3).
///
/// Every method may be called from any thread; calls made on `eventLoop` take effect at once and cost no
/// thread hop, which is how the inline services (echo, broadcast) stay on the fast path. Writes made while a
/// read batch is processed are flushed together at its end.
public protocol WebSocketConnection: AnyObject, Sendable {
    var request: WebSocketRequest { get }
    var eventLoop: any EventLoop { get }

    /// Queues a message. The promise, if any, completes when it was written to the socket or failed.
    func send(_ message: WebSocketMessage, promise: EventLoopPromise<Void>?)

    /// Queues a message encoded once for many recipients (broadcast).
    func send(_ message: PreparedMessage, promise: EventLoopPromise<Void>?)

    /// Sends a ping (RFC 6455) or does nothing on wires without one.
    func ping(_ payload: ByteBuffer)

    /// Starts the close handshake (or closes at once on wires without one).
    func close(code: CloseCode, reason: String)

    /// Stops (true) or resumes (false) reading from the peer: inbound backpressure.
    func setReadingPaused(_ paused: Bool)

    /// False while the socket's send buffer is above its high-water mark.
    var isWritable: Bool { get }

    /// Tells the connection that the handler has finished with every message delivered so far (see
    /// `WebSocketHandler.hasUnfinishedInbound`): a protocol failure waiting on that may now close.
    func inboundDidDrain()
}

extension WebSocketConnection {
    public func send(_ message: WebSocketMessage) { send(message, promise: nil) }
    public func send(_ message: PreparedMessage) { send(message, promise: nil) }
    public func send(text: String) { send(.text(text), promise: nil) }
    public func send(binary: ByteBuffer) { send(.binary(binary), promise: nil) }
    public func close(code: CloseCode = .normalClosure) { close(code: code, reason: "") }
}
