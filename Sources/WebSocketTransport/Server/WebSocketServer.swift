import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import ServiceLifecycle
import WebSocketAPI
import WebSocketEngine

/// The gateway listener: one port, HTTP handshakes routed to the services mounted on their paths.
///
/// A `Service` for swift-service-lifecycle: `run()` serves until a graceful shutdown (SIGTERM in `wsgate
/// serve`), which stops accepting, sends close 1001 to every WebSocket and waits for them to close.
public final class WebSocketServer: Service, Sendable {
    public let configuration: ServerConfiguration
    public let router: ServiceRouter
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel: any Channel
    private let tracker: ConnectionTracker
    /// WSR sessions created on this listener and awaiting their RTMP connection (register one by hand to replay
    /// recorded bytes that carry a fixed tcUrl; `package`, as the sessions are).
    package let wsrSessions: WSRSessions
    private let shutdownResult = NIOLockedValueBox<EventLoopFuture<Void>?>(nil)

    private init(configuration: ServerConfiguration, router: ServiceRouter, group: any EventLoopGroup,
                 logger: Logger, channel: any Channel, tracker: ConnectionTracker, wsrSessions: WSRSessions) {
        self.wsrSessions = wsrSessions
        self.configuration = configuration
        self.router = router
        self.group = group
        self.logger = logger
        self.channel = channel
        self.tracker = tracker
    }

    /// Where listeners accept connections unless told otherwise: one thread of its own for the whole process,
    /// never shut down (as `MultiThreadedEventLoopGroup.singleton` is not). On the connections' own loops a
    /// newcomer is accepted only between two turns of a loop that may be busy with other connections' data; here
    /// it is accepted at once and handed to its loop — under a flood that halved a newcomer's handshake wait
    /// (BENCHMARKS.md, "Fairness under a flood"). Accepting is all it does, so one thread serves every listener.
    public static let acceptorGroup: any EventLoopGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)

    /// Binds the listener and starts accepting connections.
    /// - Parameters:
    ///   - group: the loops the connections are served on.
    ///   - acceptGroup: where the listener accepts them; nil accepts on `group`.
    ///   - metrics: where the listener counts its connections; share one among the listeners of a
    ///     gateway. The default reports to the process-wide `MetricsSystem`; nil counts nothing.
    public static func start(
        configuration: ServerConfiguration, router: ServiceRouter,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        acceptGroup: (any EventLoopGroup)? = WebSocketServer.acceptorGroup,
        metrics: GatewayMetrics? = GatewayMetrics(),
        logger: Logger = Logger(label: "wsgate")
    ) async throws -> WebSocketServer {
        let tracker = ConnectionTracker(limits: .init(maxConnections: configuration.maxConnections,
                                                      maxConnectionsPerAddress: configuration.maxConnectionsPerAddress))
        let wsrSessions = WSRSessions(deadline: configuration.wsrConnectDeadline)
        let readShare = configuration.readShare
        let channel = try await ServerBootstrap(group: acceptGroup ?? group, childGroup: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: readShare.readsPerTurn)
            .childChannelOption(.recvAllocator, value: readShare.receiveAllocator)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try admit(channel, tracker: tracker, router: router, configuration: configuration, metrics: metrics,
                              wsrSessions: wsrSessions, logger: logger)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return WebSocketServer(configuration: configuration, router: router, group: group, logger: logger,
                               channel: channel, tracker: tracker, wsrSessions: wsrSessions)
    }

    /// Counts an accepted connection against the limits: over them it gets `503` and is closed; otherwise
    /// it is served and uncounted when it closes.
    private static func admit(_ channel: any Channel, tracker: ConnectionTracker, router: ServiceRouter,
                              configuration: ServerConfiguration, metrics: GatewayMetrics?, wsrSessions: WSRSessions,
                              logger: Logger) throws {
        let refusal: String
        switch tracker.admit(channel) {
        case .admitted:
            metrics?.tcpConnectionOpened()
            channel.closeFuture.whenComplete { _ in
                tracker.closed(channel)
                metrics?.tcpConnectionClosed()
            }
            let handshake = ServerHandshakeHandler(router: router, configuration: configuration, metrics: metrics,
                                                   logger: logger, wsrSessions: wsrSessions)
            handshake.upgraded = { socket in tracker.upgraded(channel, to: socket) }
            try install(handshake, on: channel, configuration: configuration, metrics: metrics, logger: logger)
            return
        case .overTotal(let n):
            refusal = "server at its limit of \(configuration.maxConnections) connections (\(n) open)"
        case .overPerAddress(let n):
            refusal = "\(n) connections from this address already (limit \(configuration.maxConnectionsPerAddress))"
        }
        metrics?.handshakeFailed(.connectionLimit)
        logger.info("connection refused", metadata: [
            "reason": "\(refusal)", "peer": "\(channel.remoteAddress.map { "\($0)" } ?? "?")",
        ])
        var rejection = HandshakeRejection.serviceUnavailable(refusal)
        rejection.headers.add("Retry-After", "5")
        channel.writeAndFlush(ByteBuffer(string: rejection.response)).whenComplete { _ in channel.close(promise: nil) }
    }

    /// Installs the gateway's handlers on an accepted connection: what the listener does for every
    /// connection, public so the gateway can serve channels made elsewhere (an `EmbeddedChannel` in a
    /// benchmark, a custom bootstrap). Such channels are not counted against the connection limits.
    /// Call on the channel's event loop.
    public static func configureConnection(
        _ channel: any Channel, router: ServiceRouter, configuration: ServerConfiguration,
        metrics: GatewayMetrics? = nil, logger: Logger
    ) throws {
        try install(ServerHandshakeHandler(router: router, configuration: configuration, metrics: metrics, logger: logger),
                    on: channel, configuration: configuration, metrics: metrics, logger: logger)
    }

    private static func install(_ handshake: ServerHandshakeHandler, on channel: any Channel,
                                configuration: ServerConfiguration, metrics: GatewayMetrics?, logger: Logger) throws {
        if let tls = configuration.tls {
            let sniffer = TLSSniffer(tls: tls, handshake: handshake, metrics: metrics, logger: logger)
            try channel.pipeline.syncOperations.addHandlers(sniffer, handshake)
        } else {
            try channel.pipeline.syncOperations.addHandler(handshake)
        }
    }

    /// The loop the listener accepts on.
    package var acceptLoop: any EventLoop { channel.eventLoop }

    /// The address actually bound (useful with port 0).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Connections held now (handshaking or open).
    public var connectionCount: Int { tracker.count }

    /// Stops accepting connections; open ones are left alone (see `shutdown`).
    public func close() async throws {
        try await channel.close()
    }

    /// Graceful shutdown: stops accepting, sends close 1001 to every WebSocket (and drops connections still
    /// in their handshake), waits up to `gracePeriod` for them to close, then closes what is left.
    /// Idempotent: later calls wait for the first.
    @discardableResult
    public func shutdown(gracePeriod: TimeAmount? = nil) -> EventLoopFuture<Void> {
        let eventLoop = channel.eventLoop
        return shutdownResult.withLockedValue { result in
            if let result { return result }
            let grace = gracePeriod ?? configuration.shutdownGracePeriod
            logger.notice("shutting down", metadata: ["connections": "\(tracker.count)", "grace": "\(grace)"])
            let done = channel.close().flatMapError { _ in eventLoop.makeSucceededVoidFuture() }.flatMap { [tracker] in
                let drained = tracker.drain(on: eventLoop)
                let deadline = eventLoop.scheduleTask(in: grace) { tracker.closeAll() }
                return drained.always { _ in deadline.cancel() }
            }
            result = done
            return done
        }
    }

    /// Serves until a graceful shutdown is requested (then drains as `shutdown` does) or the listener is
    /// closed by `close()`.
    public func run() async throws {
        try await withGracefulShutdownHandler {
            try await channel.closeFuture.get()
            if let draining = shutdownResult.withLockedValue({ $0 }) { try await draining.get() }
        } onGracefulShutdown: {
            self.shutdown()
        }
    }

    /// Returns when the listener is closed.
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }
}
