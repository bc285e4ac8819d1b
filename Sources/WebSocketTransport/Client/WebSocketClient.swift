import Logging
import NIOCore
import NIOPosix
import NIOSSL
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
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
    /// permessage-deflate offered to the server, as browsers do by default; nil offers nothing.
    public var compression: PerMessageDeflate.ClientSettings?
    /// How `wss://` servers are verified.
    public var tls: ClientTLS
    /// The HTTP proxy to tunnel through; by default taken from the environment, like other clients.
    public var proxy: ProxyChoice
    /// Speak a pre-RFC draft instead of RFC 6455: hixie-75 or hixie-76 (text only; the first of `subprotocols`
    /// is the one protocol those drafts can ask for; `origin` defaults to `null`; no compression). The
    /// server's response headers, cookies included, are in the connection's `request.headers`.
    public var draft: HixieDraft?
    /// A bearer token for a server with access control, placed in the handshake as it says (every wire).
    public var credential: ClientCredential?

    public init(subprotocols: [String] = [], headers: HTTPFields = HTTPFields(), origin: String? = nil,
                engine: RFC6455Connection.Configuration = .default, connectTimeout: TimeAmount = .seconds(10),
                responseLimits: HTTPHeadParser.Limits = .init(), closeTimeout: TimeAmount = .seconds(5),
                inboundHighWatermark: Int = 16, compression: PerMessageDeflate.ClientSettings? = .default) {
        self.subprotocols = subprotocols
        self.headers = headers
        self.origin = origin
        self.engine = engine
        self.connectTimeout = connectTimeout
        self.responseLimits = responseLimits
        self.closeTimeout = closeTimeout
        self.inboundHighWatermark = inboundHighWatermark
        self.localAddress = nil
        self.compression = compression
        self.tls = ClientTLS()
        self.proxy = .environment
        self.draft = nil
        self.credential = nil
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
        let wsr = WSRClient.isWSR(url)
        let parsed = try webSocketURL(of: url)
        let eventLoop = group.next()
        let bridge = AsyncWebSocket.Bridge(eventLoop: eventLoop, highWatermark: configuration.inboundHighWatermark)
        do {
            if wsr {
                _ = try await WSRClient.connect(to: parsed, original: url, configuration: configuration, handler: bridge,
                                                eventLoop: eventLoop, logger: logger).get()
            } else {
                _ = try await connect(to: parsed, configuration: configuration, handler: bridge, eventLoop: eventLoop,
                                      logger: logger).get()
            }
        } catch {
            bridge.connectionFailed(error)
            throw error
        }
        return try await bridge.opened.futureResult.get()
    }

    /// Connects with an inline handler called on the connection's event loop (the fast path: load
    /// generators, proxies). The future completes once the handshake succeeded.
    ///
    /// `handler` is `sending`: from here on it belongs to `eventLoop`, where every callback runs, so the caller
    /// may create it on any thread but must not touch it afterwards except from that loop (a `Sendable` handler,
    /// which guards its own state, may be kept and used anywhere).
    public static func connect(
        to url: WebSocketURL, configuration: WebSocketClientConfiguration = .init(), handler: sending any WebSocketHandler,
        eventLoop: any EventLoop, logger: Logger = Logger(label: "wsgate.client")
    ) -> EventLoopFuture<any WebSocketConnection> {
        let handler = NIOLoopBoundBox.makeBoxSendingValue(handler, eventLoop: eventLoop)
        let (url, configuration) = configuration.placingCredential(in: url)
        let opened = eventLoop.makePromise(of: (any WebSocketConnection).self)
        let proxy: HTTPProxy?
        let tlsContext: NIOSSLContext?
        do {
            proxy = try configuration.proxy.resolve(for: url, environment: ProcessInfo.processInfo.environment)
            tlsContext = url.secure ? try configuration.tls.makeContext() : nil
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        // TLS (for wss://) and the WebSocket handshake: directly on the TCP connection, or inside the tunnel.
        // Runs on the channel's loop, which is `eventLoop` (the bootstrap's whole group).
        let installEndToEndHandlers = { @Sendable (pipeline: ChannelPipeline.SynchronousOperations) throws in
            if let tlsContext {
                try pipeline.addHandler(try configuration.tls.makeHandler(context: tlsContext, host: url.host))
            }
            try configureConnection(pipeline, url: url, configuration: configuration, handler: handler.value, opened: opened,
                                    logger: logger)
        }
        var bootstrap = ClientBootstrap(group: eventLoop)
        if let local = configuration.localAddress { bootstrap = bootstrap.bind(to: local) }
        let connector = bootstrap
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let proxy {
                        try channel.pipeline.syncOperations.addHandler(ProxyConnectHandler(
                            proxy: proxy, targetHost: url.host, targetPort: url.port, timeout: configuration.connectTimeout,
                            installTunnelHandlers: { context in try installEndToEndHandlers(context.pipeline.syncOperations) },
                            failed: { opened.fail($0) }))
                    } else {
                        try installEndToEndHandlers(channel.pipeline.syncOperations)
                    }
                }
            }
            .connect(host: proxy?.host ?? url.host, port: proxy?.port ?? url.port)
        connector.whenFailure { error in
            if let proxy {
                opened.fail(WebSocketTransportError.proxyFailed("cannot reach proxy \(proxy.host):\(proxy.port): \(error)"))
            } else {
                opened.fail(error)
            }
        }
        return opened.futureResult
    }

    /// Puts the opening handshake, and after it the connection, on a channel that is connected (and TLS'd)
    /// already: what `connect` does once the transport is up. `package`, so the microbenchmark can drive the
    /// client's connection through an `EmbeddedChannel` exactly as a socket would.
    package static func configureConnection(
        _ pipeline: ChannelPipeline.SynchronousOperations, url: WebSocketURL, configuration: WebSocketClientConfiguration,
        handler: any WebSocketHandler, opened: EventLoopPromise<any WebSocketConnection>, logger: Logger
    ) throws {
        try pipeline.addHandler(ClientHandshakeHandler(opening: makeOpening(url: url, configuration: configuration), url: url,
                                                       configuration: configuration, handler: handler, opened: opened,
                                                       logger: logger))
    }

    /// The handshake the configuration asks for: RFC 6455, or a hixie draft.
    static func makeOpening(url: WebSocketURL, configuration: WebSocketClientConfiguration) -> ClientHandshakeHandler.Opening {
        var generator = SystemRandomNumberGenerator()
        if let draft = configuration.draft {
            let handshake = HixieClientHandshake(draft: draft, url: url, origin: configuration.origin ?? "null",
                                                 subprotocol: configuration.subprotocols.first,
                                                 extraHeaders: configuration.headers.map { ($0.name, $0.value) }, generator: &generator)
            return .hixie(handshake, ByteBuffer())
        }
        let handshake = ClientHandshake(url: url, key: AcceptKey.makeClientKey(using: &generator),
                                        subprotocols: configuration.subprotocols,
                                        extensions: configuration.compression.map { [$0.offer] } ?? [],
                                        origin: configuration.origin,
                                        headers: configuration.headers)
        return .rfc6455(handshake, ResponseHeadReader(limits: configuration.responseLimits))
    }

    /// The host, port, resource and security of any URL `connect(to:)` takes: `ws[s]://`, or `wsr[+ssl]://` and
    /// `rtmp[s]://` as the `ws[s]://` URL of the same endpoint.
    public static func webSocketURL(of url: String) throws -> WebSocketURL {
        WSRClient.isWSR(url) ? try WSRClient.webSocketURL(url) : try parse(url)
    }

    static func parse(_ url: String) throws -> WebSocketURL {
        do {
            return try WebSocketURL(parsing: url)
        } catch {
            throw WebSocketTransportError.unsupportedURL("\(url): \(error)")
        }
    }
}
