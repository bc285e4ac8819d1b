import NIOCore
import WebSocketEngine

/// Settings of one gateway listener. The defaults are the embedded configuration `wsgate serve` uses.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Frame and message limits of every RFC 6455 connection.
    public var engine: RFC6455Connection.Configuration
    /// Bounds on the handshake request head.
    public var handshakeLimits: HTTPHeadParser.Limits
    /// A client that has not completed its handshake by then is disconnected (slowloris).
    public var handshakeTimeout: TimeAmount
    /// How long to wait for the peer's close frame or TCP close after a close frame was sent.
    public var closeTimeout: TimeAmount
    public var backlog: Int32
    /// Sizes of the buffers connections read into. NIO keeps each connection's last buffer for its next
    /// read, so the initial size is memory every idle connection holds; it adapts upward under load.
    public var receiveBufferSizing: AdaptiveRecvByteBufferAllocator
    /// TLS (`wss://`) on this listener; nil serves plain `ws://`.
    public var tls: ServerTLS?

    public init(host: String = "127.0.0.1", port: Int = 8080,
                engine: RFC6455Connection.Configuration = .default,
                handshakeLimits: HTTPHeadParser.Limits = .init(),
                handshakeTimeout: TimeAmount = .seconds(10),
                closeTimeout: TimeAmount = .seconds(5),
                backlog: Int32 = 4096,
                receiveBufferSizing: AdaptiveRecvByteBufferAllocator = .init(minimum: 64, initial: 256, maximum: 65536)) {
        self.host = host
        self.port = port
        self.engine = engine
        self.handshakeLimits = handshakeLimits
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.backlog = backlog
        self.receiveBufferSizing = receiveBufferSizing
        self.tls = nil
    }
}
