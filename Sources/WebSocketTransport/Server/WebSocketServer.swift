import Logging
import NIOCore
import NIOPosix
import WebSocketAPI

/// The gateway listener: one port, HTTP handshakes routed to the services mounted on their paths.
public final class WebSocketServer: Sendable {
    public let configuration: ServerConfiguration
    public let router: ServiceRouter
    private let group: any EventLoopGroup
    private let logger: Logger
    private let channel: any Channel

    private init(configuration: ServerConfiguration, router: ServiceRouter, group: any EventLoopGroup,
                 logger: Logger, channel: any Channel) {
        self.configuration = configuration
        self.router = router
        self.group = group
        self.logger = logger
        self.channel = channel
    }

    /// Binds the listener and starts accepting connections.
    public static func start(
        configuration: ServerConfiguration, router: ServiceRouter,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "wsgate")
    ) async throws -> WebSocketServer {
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            .childChannelOption(.recvAllocator, value: configuration.receiveBufferSizing)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try configureConnection(channel, router: router, configuration: configuration, logger: logger)
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        return WebSocketServer(configuration: configuration, router: router, group: group, logger: logger, channel: channel)
    }

    /// Installs the gateway's handlers on an accepted connection: what the listener does for every
    /// connection, public so the gateway can serve channels made elsewhere (an `EmbeddedChannel` in a
    /// benchmark, a custom bootstrap). Call on the channel's event loop.
    public static func configureConnection(
        _ channel: any Channel, router: ServiceRouter, configuration: ServerConfiguration, logger: Logger
    ) throws {
        let handshake = ServerHandshakeHandler(router: router, configuration: configuration, logger: logger)
        if let tls = configuration.tls {
            try channel.pipeline.syncOperations.addHandlers(TLSSniffer(tls: tls, handshake: handshake, logger: logger), handshake)
        } else {
            try channel.pipeline.syncOperations.addHandler(handshake)
        }
    }

    /// The address actually bound (useful with port 0).
    public var localAddress: SocketAddress? { channel.localAddress }

    /// Stops accepting connections.
    public func close() async throws {
        try await channel.close()
    }

    /// Returns when the listener is closed.
    public func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }
}
