import Logging
import NIOCore
import WSGateMonitoring
import WSGateServices
import WebSocketEngine
import WebSocketTransport

extension GatewayConfiguration {
    /// The services mounted on their paths, with their origin and compression policies, and — given the
    /// gateway's `monitoring` — the `/metrics` endpoint and the web console.
    public func makeRouter(logger: Logger, monitoring: GatewayMonitoring? = nil) -> ServiceRouter {
        var router = ServiceRouter()
        for service in services {
            let origins: OriginPolicy = service.allowedOrigins.map { .only($0) } ?? .any
            switch service.kind {
            case .echo:
                router.mount(EchoService(), at: service.path, compression: service.compression, origins: origins)
            case .broadcast:
                router.mount(BroadcastService(), at: service.path, compression: service.compression, origins: origins)
            case .tcpProxy(let host, let port):
                router.mount(TCPProxyService(host: host, port: port, logger: logger), at: service.path,
                             compression: service.compression, origins: origins)
            }
        }
        if let monitoring { mountMonitoring(monitoring, on: &router) }
        return router
    }

    private func mountMonitoring(_ monitoring: GatewayMonitoring, on router: inout ServiceRouter) {
        if let path = self.monitoring.metricsPath {
            router.serve(monitoring.prometheusEndpoint, at: path)
        }
        if let path = self.monitoring.consolePath {
            let live = self.monitoring.consoleLivePath
            router.mount(ConsoleLiveService(monitoring: monitoring, mounted: router.paths), at: live)
            router.serve(ConsolePage(livePath: live), at: path)
        }
    }

    /// One `ServerConfiguration` per listener, with the limits applied. Throws when a TLS file is unusable.
    public func makeServerConfigurations() throws -> [ServerConfiguration] {
        try listeners.map { listener in
            var c = ServerConfiguration(host: listener.host, port: listener.port)
            c.engine.maxMessageSize = limits.maxMessageSize
            c.engine.maxFrameSize = limits.maxMessageSize
            c.maxConnections = limits.maxConnections
            c.maxConnectionsPerAddress = limits.maxConnectionsPerAddress ?? .max
            c.handshakeTimeout = Self.amount(limits.handshakeTimeout)
            c.handshakeLimits.maxHeadSize = limits.maxHandshakeSize
            c.pingInterval = limits.pingInterval.map(Self.amount)
            c.pongTimeout = Self.amount(limits.pongTimeout)
            c.idleTimeout = limits.idleTimeout.map(Self.amount)
            c.maxSendQueueBytes = limits.maxSendQueue
            c.shutdownGracePeriod = Self.amount(limits.shutdownGrace)
            if let tls = listener.tls {
                c.tls = try ServerTLS(certificateChainFile: tls.certificateChainFile, privateKeyFile: tls.privateKeyFile,
                                      allowPlaintext: tls.allowPlaintext)
            }
            return c
        }
    }

    static func amount(_ seconds: Double) -> TimeAmount { .nanoseconds(Int64(seconds * 1e9)) }
}
