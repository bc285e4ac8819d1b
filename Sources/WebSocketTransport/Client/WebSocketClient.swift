import Logging
import NIOCore
import NIOPosix
import WebSocketAPI
import WebSocketEngine

/// Options of a client connection.
public struct WebSocketClientConfiguration: Sendable {
    /// Offered in this order of preference.
    public var subprotocols: [String]
    /// Extra request headers (cookies, authorization, …).
    public var headers: HTTPFields
    public var origin: String?
    public var engine: RFC6455Connection.Configuration
    public var connectTimeout: TimeAmount
    /// Bound on the server's response head.
    public var responseLimits: HTTPHeadParser.Limits
    public var closeTimeout: TimeAmount
    /// Inbound messages the async API buffers before it stops reading from the socket.
    public var inboundHighWatermark: Int
    /// Local address to connect from (a load generator spreads connections over 127.0.0.x this way).
    public var localAddress: SocketAddress?

    public init(subprotocols: [String] = [], headers: HTTPFields = HTTPFields(), origin: String? = nil,
                engine: RFC6455Connection.Configuration = .default, connectTimeout: TimeAmount = .seconds(10),
                responseLimits: HTTPHeadParser.Limits = .init(), closeTimeout: TimeAmount = .seconds(5),
                inboundHighWatermark: Int = 16) {
        self.subprotocols = subprotocols
        self.headers = headers
        self.origin = origin
        self.engine = engine
        self.connectTimeout = connectTimeout
        self.responseLimits = responseLimits
        self.closeTimeout = closeTimeout
        self.inboundHighWatermark = inboundHighWatermark
        self.localAddress = nil
    }
}

/// Opens client WebSocket connections over the same engine and connection type the server uses.
public enum WebSocketClient {
    /// Connects and returns the async API (messages as an `AsyncSequence`, async send and close).
    public static func connect(
        to url: String, configuration: WebSocketClientConfiguration = .init(),
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "wsgate.client")
    ) async throws -> AsyncWebSocket {
        let parsed = try parse(url)
        let eventLoop = group.next()
        let bridge = AsyncWebSocket.Bridge(eventLoop: eventLoop, highWatermark: configuration.inboundHighWatermark)
        do {
            _ = try await connect(to: parsed, configuration: configuration, handler: bridge, eventLoop: eventLoop,
                                  logger: logger).get()
        } catch {
            bridge.connectionFailed(error)
            throw error
        }
        return try await bridge.opened.futureResult.get()
    }

    /// Connects with an inline handler called on the connection's event loop (the fast path: load
    /// generators, proxies). The future completes once the handshake succeeded.
    public static func connect(
        to url: WebSocketURL, configuration: WebSocketClientConfiguration = .init(), handler: any WebSocketHandler,
        eventLoop: any EventLoop, logger: Logger = Logger(label: "wsgate.client")
    ) -> EventLoopFuture<any WebSocketConnection> {
        guard !url.secure else {
            return eventLoop.makeFailedFuture(WebSocketTransportError.unsupportedURL("wss:// is not supported yet"))
        }
        let opened = eventLoop.makePromise(of: (any WebSocketConnection).self)
        var generator = SystemRandomNumberGenerator()
        let handshake = ClientHandshake(url: url, key: AcceptKey.makeClientKey(using: &generator),
                                        subprotocols: configuration.subprotocols, origin: configuration.origin,
                                        headers: configuration.headers)
        var bootstrap = ClientBootstrap(group: eventLoop)
        if let local = configuration.localAddress { bootstrap = bootstrap.bind(to: local) }
        let connector = bootstrap
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ClientHandshakeHandler(handshake: handshake, configuration: configuration, handler: handler,
                                               opened: opened, logger: logger))
                }
            }
            .connect(host: url.host, port: url.port)
        connector.whenFailure { opened.fail($0) }
        return opened.futureResult
    }

    static func parse(_ url: String) throws -> WebSocketURL {
        do {
            return try WebSocketURL(parsing: url)
        } catch {
            throw WebSocketTransportError.unsupportedURL("\(url): \(error)")
        }
    }
}
