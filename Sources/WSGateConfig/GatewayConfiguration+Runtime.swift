import Foundation
import Logging
import NIOCore
import MSRPEngine
import WSGateAuth
import WebSocketAPI
import WSGateMSRP
import WSGateMonitoring
import WSGateServices
import WebSocketEngine
import WebSocketTransport

extension GatewayConfiguration {
    /// The services mounted on their paths, with their origin and compression policies, and — given the
    /// gateway's `monitoring` — the `/metrics` endpoint and the web console.
    /// `access` holds the services' access policies by path (`makeAccessPolicies`).
    public func makeRouter(logger: Logger, monitoring: GatewayMonitoring? = nil,
                           msrpRelays: [String: MSRPRelayService] = [:], access: [String: AccessPolicy] = [:]) -> ServiceRouter {
        var router = ServiceRouter()
        for service in services {
            let origins: OriginPolicy = service.allowedOrigins.map { .only($0) } ?? .any
            let made: (any WebSocketService)?
            switch service.kind {
            case .echo: made = EchoService()
            case .broadcast: made = BroadcastService()
            case .tcpProxy(let host, let port): made = TCPProxyService(host: host, port: port, logger: logger)
            case .tcpProxyTargets(let selector, let backends):
                made = TCPProxyService(targets: TCPProxyTargets(backends: backends, selector: selector, mountPath: service.path),
                                       logger: logger)
            case .msrp: made = msrpRelays[service.path]
            }
            if let made {
                var bySegment = false
                if case .tcpProxyTargets(.pathSegment, _) = service.kind { bySegment = true }
                router.mount(made, at: service.path, compression: service.compression, origins: origins,
                             access: access[service.path], matchingSubpaths: bySegment, rateLimit: service.rateLimit)
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

    /// The access policies of the services with `auth`, by path: their key and hash files read, their JWT keys
    /// resolved by jwt-kit. Throws, naming the service and the file, when one is unusable.
    public func makeAccessPolicies() async throws -> [String: AccessPolicy] {
        var out: [String: AccessPolicy] = [:]
        for service in services {
            guard let auth = service.auth else { continue }
            var methods: [any HandshakeAuthenticator] = []
            if let jwt = auth.jwt {
                var keys = JWTKeySource(hmacAlgorithms: jwt.algorithms)
                if let file = jwt.secretFile {
                    keys.hmacSecret = JWTKeySource.secret(fromFileContents: try Self.readBytes(file, for: service.path))
                }
                keys.publicKeysPEM = try jwt.publicKeyFiles.map { try Self.readText($0, for: service.path) }
                keys.jwksJSON = try jwt.jwksFile.map { try Self.readText($0, for: service.path) }
                let checks = JWTAuthenticator.Checks(issuers: jwt.issuers, audiences: jwt.audiences, leeway: jwt.leeway,
                                                     requireExpiry: jwt.requireExpiry)
                do { methods.append(try await JWTAuthenticator.make(keys: keys, checks: checks)) } catch {
                    throw RuntimeError("\(service.path): auth.jwt: \(error)")
                }
            }
            if auth.mtls { methods.append(ClientCertificateAuthenticator()) }
            if let file = auth.apiKeyFile {
                do { methods.append(try APIKeyAuthenticator(hashFile: try Self.readText(file, for: service.path))) } catch {
                    throw RuntimeError("\(service.path): auth.api_key: \(file): \(error)")
                }
            }
            out[service.path] = AccessPolicy(methods: methods, sources: auth.sources,
                                             requirement: AccessRequirement(subjects: auth.subjects.map(Set.init),
                                                                            claims: auth.requiredClaims))
        }
        return out
    }

    static func readBytes(_ file: String, for path: String) throws -> [UInt8] {
        guard let bytes = FileManager.default.contents(atPath: file) else {
            throw RuntimeError("\(path): cannot read \(file)")
        }
        return Array(bytes)
    }

    static func readText(_ file: String, for path: String) throws -> String {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else { throw RuntimeError("\(path): cannot read \(file)") }
        return text
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
            // With access control on the WebSocket leg, AUTH needs its identity (or Digest): no anonymous sessions.
            settings.allowsAnonymousAUTH = service.auth == nil && (options.allowAnonymous || options.fromFlags)
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
            c.handshakeRateLimiter = limits.handshakesPerSecondPerAddress.map {
                HandshakeRateLimiter(perSecond: $0, burst: limits.handshakeBurst)
            }
            if let tls = listener.tls {
                c.tls = try ServerTLS(certificateChainFile: tls.certificateChainFile, privateKeyFile: tls.privateKeyFile,
                                      allowPlaintext: tls.allowPlaintext, clientCAFile: tls.clientCAFile)
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
