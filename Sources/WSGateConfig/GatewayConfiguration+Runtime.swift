import Foundation
import Logging
import NIOCore
import MSRPEngine
import WSGateAuth
import WSGateCluster
import WSGateExec
import WebSocketAPI
import WSGateMSRP
import WSGateMonitoring
import WSGateServices
import WebSocketEngine
import WebSocketTransport

extension GatewayConfiguration {
    /// The services mounted on their paths, with their origin and compression policies, and — given the
    /// gateway's `monitoring` — the `/metrics` endpoint and the web console.
    /// `access` holds the services' access policies by path (`makeAccessPolicies`); with a `backplane`, the
    /// broadcast services publish through it and receive the other nodes' messages.
    public func makeRouter(logger: Logger, monitoring: GatewayMonitoring? = nil,
                           msrpRelays: [String: MSRPRelayService] = [:], access: [String: AccessPolicy] = [:],
                           backplane: PostgresBackplane? = nil) -> ServiceRouter {
        var router = ServiceRouter()
        for service in services {
            let origins: OriginPolicy = service.allowedOrigins.map { .only($0) } ?? .any
            let made: (any WebSocketService)?
            switch service.kind {
            case .echo: made = EchoService()
            case .broadcast(let options):
                let broadcast = BroadcastService(settings: options.settings, mountPath: service.path, fanOut: backplane,
                                                 logger: logger)
                backplane?.attach(broadcast)
                made = broadcast
            case .tcpProxy(let host, let port): made = TCPProxyService(host: host, port: port, logger: logger)
            case .tcpProxyTargets(let selector, let backends):
                made = TCPProxyService(targets: TCPProxyTargets(backends: backends, selector: selector, mountPath: service.path),
                                       logger: logger)
            case .msrp: made = msrpRelays[service.path]
            case .exec(var settings):
                settings.maxMessageSize = limits.maxMessageSize
                made = ExecService(settings: settings, mountPath: service.path, logger: logger)
            }
            if let made {
                var bySegment = false
                if case .tcpProxyTargets(.pathSegment, _) = service.kind { bySegment = true }
                if case .broadcast(let options) = service.kind, options.topics != nil { bySegment = true }
                if case .exec = service.kind { bySegment = true }  // the rest of the path is the program's PATH_INFO
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
            settings.maxStreamedChunkBytes = options.maxChunkSize
            if let file = options.htdigest { settings.credentials = try Self.readHTDigest(file) }
            if let file = options.nonceSecretFile { settings.nonceSecret = try Self.readNonceSecret(file) }
            out[service.path] = (try MSRPRelayService(settings: settings, logger: logger), options.port)
        }
        return out
    }

    /// The broadcast backplane `cluster.backplane` describes (nil without one): its password file read, this node's
    /// id chosen (`cluster.node_id`, else the host name and a random suffix). Not yet connected: `run()` does that.
    public func makeBackplane(logger: Logger, monitoring: GatewayMonitoring? = nil) throws -> PostgresBackplane? {
        guard let backplane = cluster?.backplane else { return nil }
        var configuration: BackplaneConfiguration
        do {
            configuration = try BackplaneConfiguration(url: backplane.url, nodeID: cluster?.nodeID ?? Self.defaultNodeID())
        } catch {
            throw RuntimeError("cluster.backplane.postgres.url: \(error)")
        }
        if let file = backplane.passwordFile {
            // Read as every secret file is (JWTKeySource: the whitespace at the end trimmed).
            guard let bytes = JWTKeySource.secret(fromFile: file) else {
                throw RuntimeError("cannot read the backplane password file \(file)")
            }
            configuration.password = String(decoding: bytes, as: UTF8.self)
        }
        configuration.retentionSeconds = backplane.retention
        configuration.required = backplane.required
        configuration.maxBufferedBytes = backplane.maxBufferedBytes
        return PostgresBackplane(configuration: configuration, logger: logger, metrics: monitoring?.factory)
    }

    /// The host name and six random hex digits: unique enough for nodes that were given no id.
    static func defaultNodeID() -> String {
        let suffix = String(UInt32.random(in: 0 ... 0xFF_FFFF), radix: 16)
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "wsgate"
        return host + "-" + suffix
    }

    /// Reads the files the MSRP relays name (htdigest, nonce secret) as starting would, for `--check-config`.
    public func checkMSRPFiles() throws {
        for service in services {
            guard case .msrp(let options) = service.kind else { continue }
            if let file = options.nonceSecretFile { _ = try Self.readNonceSecret(file) }
            if let file = options.htdigest { _ = try Self.readHTDigest(file) }
        }
    }

    static func readHTDigest(_ file: String) throws -> HTDigestFile {
        guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
            throw RuntimeError("cannot read the htdigest file \(file)")
        }
        do { return try HTDigestFile(parsing: text) } catch {
            throw RuntimeError("\(file):\(error.line): not an htdigest line (user:realm:HA1)")
        }
    }

    /// The bytes of a `nonce_secret_file`: whitespace at the end trimmed (an editor's newline), at least 16 left.
    static func readNonceSecret(_ file: String) throws -> [UInt8] {
        guard let bytes = JWTKeySource.secret(fromFile: file) else {
            throw RuntimeError("cannot read the MSRP nonce secret file \(file)")
        }
        guard bytes.count >= 16 else {
            throw RuntimeError("the MSRP nonce secret file \(file) holds \(bytes.count) bytes; at least 16 are needed")
        }
        return bytes
    }

    /// One `ServerConfiguration` per listener, with the limits applied. Throws when a TLS file is unusable.
    public func makeServerConfigurations() throws -> [ServerConfiguration] {
        try listeners.map { listener in
            var c = ServerConfiguration(host: listener.host, port: listener.port)
            c.wsrAdvertisedAddress = listener.advertise
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
            c.readBudget = limits.readBudget
            c.compressedReadBudget = limits.compressedReadBudget
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

extension GatewayConfiguration.Broadcast {
    /// The service's settings: the permissions' requirements checked against the handshake identity.
    var settings: BroadcastSettings {
        BroadcastSettings(topics: topics, publish: publish.permission, subscribe: subscribe.permission)
    }
}

extension GatewayConfiguration.Broadcast.Permission {
    var permission: BroadcastPermission {
        switch self {
        case .anyone: return .anyone
        case .nobody: return .nobody
        case .requires(let requirement): return .identity { requirement.refusal(for: $0) == nil }
        }
    }
}
