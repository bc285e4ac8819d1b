import Logging
import NIOCore
import MSRPEngine
import WSGateMSRP
import WSGateMonitoring
import WSGateServices
import WebSocketEngine
import WebSocketTransport

extension GatewayConfiguration {
    /// The services mounted on their paths, with their origin and compression policies, and — given the
    /// gateway's `monitoring` — the `/metrics` endpoint and the web console.
    public func makeRouter(logger: Logger, monitoring: GatewayMonitoring? = nil,
                           msrpRelays: [String: MSRPRelayService] = [:]) -> ServiceRouter {
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
            case .msrp:
                if let relay = msrpRelays[service.path] {
                    router.mount(relay, at: service.path, compression: service.compression, origins: origins)
                }
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

    /// The MSRP relays of the `msrp` services, by path (their TCP listeners are started by the caller).
    /// Throws when an htdigest file cannot be read.
    public func makeMSRPRelays(logger: Logger) throws -> [String: (relay: MSRPRelayService, tcpPort: Int)] {
        var out: [String: (relay: MSRPRelayService, tcpPort: Int)] = [:]
        for service in services {
            guard case .msrp(let options) = service.kind else { continue }
            var settings = MSRPRelaySettings(host: options.host ?? listeners[0].host, tcpPort: options.port,
                                             webSocketPort: listeners[0].port)
            settings.realm = options.realm
            settings.clientTLS = ClientTLS(caFile: options.caFile)
            settings.nonceLifetime = UInt64(options.nonceLifetime)
            settings.maxWebSocketMessage = options.maxWebSocketMessage
            settings.transactionTimeout = .nanoseconds(Int64(options.transactionTimeout * 1e9))
            if let tls = listeners[0].tls {
                // The relay's TCP listener speaks msrps with the gateway's certificate (and plain msrp beside it).
                settings.tls = try ServerTLS(certificateChainFile: tls.certificateChainFile, privateKeyFile: tls.privateKeyFile,
                                             allowPlaintext: true)
            }
            settings.limits.maxBodyBytes = min(limits.maxMessageSize, 16 << 20)
            if let file = options.htdigest {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw RuntimeError("cannot read the htdigest file \(file)")
                }
                do { settings.credentials = try HTDigestFile(parsing: text) } catch {
                    throw RuntimeError("\(file):\(error.line): not an htdigest line (user:realm:HA1)")
                }
            }
            out[service.path] = (try MSRPRelayService(settings: settings, logger: logger), options.port)
        }
        return out
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

/// A configuration that parses but cannot run (a file it names is unreadable).
public struct RuntimeError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
