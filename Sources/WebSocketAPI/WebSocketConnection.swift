import NIOCore
import WebSocketEngine

/// What is fixed when a connection opens: the request that opened it and what was negotiated.
public struct WebSocketRequest: Sendable {
    /// The request path without the query, e.g. `/echo`.
    public var path: String
    public var query: String?
    public var headers: HTTPFields
    /// The `Origin` the client declared (browsers always send one).
    public var origin: String?
    public var remoteAddress: SocketAddress?
    public var wire: WebSocketWire
    /// The subprotocol both sides agreed on, if any.
    public var subprotocol: String?
    /// The permessage-deflate parameters both sides agreed on, if compression was negotiated.
    public var compression: PerMessageDeflate.Parameters?
    /// Whether the connection runs over TLS (`wss://`).
    public var secure = false

    public init(path: String, query: String? = nil, headers: HTTPFields = HTTPFields(), origin: String? = nil,
                remoteAddress: SocketAddress? = nil, wire: WebSocketWire, subprotocol: String? = nil) {
        self.path = path
        self.query = query
        self.headers = headers
        self.origin = origin
        self.remoteAddress = remoteAddress
        self.wire = wire
        self.subprotocol = subprotocol
    }
}

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

/// The per-connection callbacks of a service. Called on the connection's event loop, one at a time.
public protocol WebSocketHandler: AnyObject {
    func connectionDidOpen(_ connection: any WebSocketConnection)
    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage)
    /// Called once, when the connection is gone.
    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo)
    /// Called when `isWritable` changed.
    func connectionWritabilityDidChange(_ connection: any WebSocketConnection)

    /// True while messages already delivered are still being processed elsewhere (an async consumer).
    /// When the peer breaks the protocol, the connection then waits for `inboundDidDrain()` (bounded by
    /// the close timeout) before failing, so replies to earlier messages still go out.
    var hasUnfinishedInbound: Bool { get }
}

extension WebSocketHandler {
    public func connectionDidOpen(_ connection: any WebSocketConnection) {}
    public func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {}
    public func connectionWritabilityDidChange(_ connection: any WebSocketConnection) {}
    public var hasUnfinishedInbound: Bool { false }
}
