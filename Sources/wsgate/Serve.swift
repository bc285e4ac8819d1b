import ArgumentParser
import Foundation
import Dispatch
import Logging
import Metrics
import NIOCore
import NIOPosix
import WSGateAuth
import WSGateCluster
import WSGateConfig
import WSGateExec
import WSGateMSRP
import WSGateMonitoring
import WSGateServices
import ServiceLifecycle
import WebSocketEngine
import WebSocketTransport

#if canImport(Glibc)
import Glibc
#endif

/// `wsgate serve`: the gateway, from a configuration file or the embedded default; flags override either.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway (embedded default configuration: /echo and /broadcast on ws://127.0.0.1:8080).")

    @Option(help: "YAML configuration file (listeners, services, limits, log); see docs/configuration.md. Flags below override it.")
    var config: String?
    @Option(help: "Check a configuration file, print each problem as FILE:LINE:COLUMN: message, and exit (0 if valid).")
    var checkConfig: String?
    @Option(help: "Address to listen on (the first listener's).") var host: String?
    @Option(help: "Port to listen on (the first listener's).") var port: Int?
    @Option(help: ArgumentHelp("The address a WSR create names for its RTMP leg (the first listener's; default: the request's Host). Behind a load balancer, each node's own address, so the RTMP connection reaches the node holding the session.",
                               valueName: "HOST:PORT"))
    var advertise: String?
    @Option(help: ArgumentHelp("Share broadcasts with the other gateways through this PostgreSQL database (it makes its own table): what a client publishes on any node reaches every node's subscribers of the topic. PostgreSQL unreachable: local clients are still served, and the node catches up when it is back.",
                               valueName: "postgres://USER[:PASSWORD]@HOST:PORT/DB"))
    var backplane: String?
    @Option(help: "This gateway's name among the nodes of a cluster (default: the host name and a random suffix).") var nodeId: String?
    @Option(help: "Largest accepted message in bytes (close 1009 above it).") var maxMessageSize: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel: String?
    @Option(help: "Log format: text, or json (one object per line).") var logFormat: String?
    @Flag(help: "Decline permessage-deflate offers on every service (compression is on by default).") var noCompression = false
    @Option(help: "PEM certificate chain (leaf first): serve wss:// on the first listener.") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Flag(help: "With TLS, also serve plain ws:// on the same port (told apart by the first byte).") var tlsAllowPlaintext = false
    @Option(help: ArgumentHelp("With TLS, ask clients for a certificate and verify one presented against these PEM CA certificates (for services with auth.mtls, or --mtls).",
                               valueName: "PEM"))
    var tlsClientCa: String?
    @Flag(help: "Protect every service (that has no auth of its own) with client certificates verified against --tls-client-ca (alone, or beside --jwt-secret-file: either admits).")
    var mtls = false
    @Option(name: .customLong("allowed-origin"),
            help: "Browser origin allowed to connect to every service, e.g. https://app.example or https://*.example (repeatable; default: any). Others get 403.")
    var allowedOrigins: [String] = []
    @Option(name: .customLong("tcp-proxy"),
            help: "Mount a TCP proxy (websockify): PATH=HOST:PORT, e.g. /vnc=127.0.0.1:5900 (repeatable).")
    var tcpProxies: [String] = []
    @Option(name: .customLong("exec"),
            help: ArgumentHelp("Put a program behind a path, as websocketd does: PATH=COMMAND [ARGUMENTS…] (split into words as a shell would, quotes honoured, nothing expanded; no shell runs it), e.g. \"/cat=/bin/cat\" (repeatable). Each connection runs it once: messages are its stdin lines, its stdout lines are messages.",
                               valueName: "PATH=COMMAND"))
    var execs: [String] = []
    @Option(help: "Connections held at once; more are answered 503 (default 100000).") var maxConnections: Int?
    @Option(help: "Connections held at once from one client address; more are answered 503 (default: no limit).")
    var maxConnectionsPerAddress: Int?
    @Option(help: "Seconds a graceful shutdown (SIGTERM, SIGINT) waits for clients to answer close 1001 (default 10).")
    var shutdownGrace: Double?
    @Option(help: "Ping a client after this many seconds without a frame from it (0: never; default 30).") var pingInterval: Double?
    @Option(help: "Seconds a pinged client may stay silent before close 1011 (default 20).") var pongTimeout: Double?
    @Option(help: "Close 1001 after this many seconds without a data message either way (0: never, the default).") var idleTimeout: Double?
    @Option(help: "Bytes that may queue for a client that does not read before close 1008 (default 64 MiB).") var maxSendQueue: Int?
    @Option(help: "Run the MSRP relay (RFC 4976/7977): its WebSocket leg on /msrp (subprotocol msrp), its TCP listener on this port (2855 is MSRP's).")
    var msrpPort: Int?
    @Option(help: "Host name in the MSRP relay's URIs (Use-Path); default: the listener's host.") var msrpHost: String?
    @Option(help: "Digest realm for MSRP AUTH (with --msrp-htdigest).") var msrpRealm: String?
    @Option(help: "Apache htdigest file with the MSRP users (user:realm:HA1); AUTH then needs credentials.") var msrpHtdigest: String?
    @Option(help: "PEM CA certificates to verify msrps next hops with (default: the system's).") var msrpCaFile: String?
    @Option(help: ArgumentHelp("Seconds a next hop has to answer a forwarded MSRP request before the source gets a 408 REPORT (default 30).",
                               valueName: "S"))
    var msrpTransactionTimeout: Double?
    @Option(help: ArgumentHelp("The largest MSRP SEND chunk a TCP/TLS leg streams through the relay (default 1 GiB). Chunks are forwarded as they arrive, never held whole; --max-message-size still bounds WebSocket messages.",
                               valueName: "BYTES"))
    var msrpMaxChunkSize: Int?
    @Option(help: ArgumentHelp("A file whose bytes (at least 16, whitespace at the end trimmed) key the MSRP relay's Digest nonces. Give every node of a cluster the same file, and a nonce one node issued is accepted by the others (default: a random key per process).",
                               valueName: "FILE"))
    var msrpNonceSecretFile: String?
    @Option(help: ArgumentHelp("Protect every service (that has no auth of its own) with HS256/384/512 JWTs signed with this file's bytes (whitespace at the end trimmed), presented as Authorization: Bearer, the access_token query parameter or cookie, or a base64url.bearer.authorization.k8s.io subprotocol entry. Mint one with `wsgate token`.",
                               valueName: "FILE"))
    var jwtSecretFile: String?
    @Option(help: ArgumentHelp("Protect every service (that has no auth of its own) with API keys: a file of their SHA-256 hashes, one per line as 64 hex digits, optionally followed by a name (beside --jwt-secret-file or --mtls, any admits).",
                               valueName: "FILE"))
    var apiKeyFile: String?
    @Option(help: ArgumentHelp("Messages per second each client may send to every service; faster senders are throttled (reading pauses), and closed with 1008 after 30 s over the limit.",
                               valueName: "N"))
    var rateLimitMessages: Double?
    @Option(help: ArgumentHelp("Bytes per second each client may send to every service (as --rate-limit-messages).", valueName: "N"))
    var rateLimitBytes: Double?
    @Option(help: ArgumentHelp("New handshakes per second from one client address; more get 429 with Retry-After.", valueName: "N"))
    var maxHandshakeRate: Double?
    @Flag(help: "Do not serve Prometheus metrics (served at /metrics by default).") var noMetrics = false
    @Flag(help: "Do not serve the web console (served at / by default, live figures at /console/live).") var noConsole = false

    /// `PATH=HOST:PORT` (an IPv6 host in brackets).
    static func parseTCPProxy(_ spec: String) throws -> (String, String, Int) {
        guard let eq = spec.firstIndex(of: "="), spec.hasPrefix("/"),
              let (host, port) = GatewayConfiguration.parseHostPort(spec[spec.index(after: eq)...]) else {
            throw ValidationError("--tcp-proxy wants PATH=HOST:PORT, e.g. /vnc=127.0.0.1:5900: \(spec)")
        }
        return (String(spec[..<eq]), host, port)
    }

    /// `PATH=COMMAND [ARGUMENTS…]`: the path and the command, its program found (on PATH when it has no slash).
    static func parseExec(_ spec: String) throws -> (String, [String]) {
        guard let eq = spec.firstIndex(of: "="), spec.hasPrefix("/") else {
            throw ValidationError("--exec wants PATH=COMMAND, e.g. /cat=/bin/cat: \(spec)")
        }
        let path = String(spec[..<eq])
        guard var command = ExecCommand.words(String(spec[spec.index(after: eq)...])) else {
            throw ValidationError("--exec \(path): a quote in the command is not closed")
        }
        guard let program = command.first else { throw ValidationError("--exec \(path): no command") }
        if let why = ExecCommand.cannotRun(program) { throw ValidationError("--exec \(path): \(why)") }
        command[0] = ExecCommand.resolve(program) ?? program
        return (path, command)
    }

    func validate() throws {
        for spec in execs { _ = try Self.parseExec(spec) }
        for spec in tcpProxies { _ = try Self.parseTCPProxy(spec) }
        if let backplane {
            do { _ = try BackplaneConfiguration(url: backplane, nodeID: nodeId ?? "check") } catch {
                throw ValidationError("--backplane: \(error) (postgres://USER[:PASSWORD]@HOST:PORT/DB)")
            }
        }
        if let nodeId, nodeId.isEmpty || nodeId.utf8.count > 128 { throw ValidationError("--node-id must be 1 to 128 bytes") }
        if let advertise, GatewayConfiguration.parseHostPort(advertise) == nil {
            throw ValidationError("--advertise wants HOST:PORT, e.g. 10.0.0.2:8080: \(advertise)")
        }
        if let logFormat, !["text", "json"].contains(logFormat) { throw ValidationError("--log-format must be text or json") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsAllowPlaintext, tlsCert == nil { throw ValidationError("--tls-allow-plaintext needs --tls-cert and --tls-key") }
        if tlsClientCa != nil, tlsCert == nil { throw ValidationError("--tls-client-ca needs --tls-cert and --tls-key") }
        if mtls, tlsClientCa == nil { throw ValidationError("--mtls needs --tls-client-ca") }
        for (name, value) in [("--rate-limit-messages", rateLimitMessages), ("--rate-limit-bytes", rateLimitBytes),
                              ("--max-handshake-rate", maxHandshakeRate)] {
            if let value, !(value > 0) { throw ValidationError("\(name) must be more than 0") }
        }
        if let msrpMaxChunkSize, !(1024...(1 << 40)).contains(msrpMaxChunkSize) {
            throw ValidationError("--msrp-max-chunk-size must be between 1024 and 2^40 bytes")
        }
        if let msrpTransactionTimeout, !(msrpTransactionTimeout > 0) {
            throw ValidationError("--msrp-transaction-timeout must be more than 0 seconds")
        }
    }

    /// Reads and checks a configuration file; problems are printed as FILE:LINE:COLUMN: message.
    static func load(_ path: String) throws -> GatewayConfiguration {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ValidationError("cannot read the configuration file \(path)")
        }
        do {
            return try GatewayConfiguration.parse(yaml: text)
        } catch {
            for issue in error.issues { printError("\(path):\(issue)") }
            throw ExitCode(1)
        }
    }

    /// The file's configuration (or the embedded one) with the flags given on the command line applied.
    func effectiveConfiguration() throws -> GatewayConfiguration {
        var c = try config.map(Self.load) ?? .default
        if let host { c.listeners[0].host = host }
        if let port { c.listeners[0].port = port }
        if let advertise { c.listeners[0].advertise = advertise }
        if backplane != nil || nodeId != nil {
            var cluster = c.cluster ?? .init()
            if let nodeId { cluster.nodeID = nodeId }
            if let backplane {
                var configured = cluster.backplane ?? .init(url: backplane)
                configured.url = backplane
                cluster.backplane = configured
            }
            c.cluster = cluster
        }
        if let tlsCert, let tlsKey {
            c.listeners[0].tls = .init(certificateChainFile: tlsCert, privateKeyFile: tlsKey, allowPlaintext: tlsAllowPlaintext,
                                       clientCAFile: tlsClientCa)
        }
        if let maxMessageSize { c.limits.maxMessageSize = maxMessageSize }
        if let maxConnections { c.limits.maxConnections = maxConnections }
        if let maxConnectionsPerAddress { c.limits.maxConnectionsPerAddress = maxConnectionsPerAddress == 0 ? nil : maxConnectionsPerAddress }
        if let shutdownGrace { c.limits.shutdownGrace = shutdownGrace }
        if let pingInterval { c.limits.pingInterval = pingInterval > 0 ? pingInterval : nil }
        if let pongTimeout { c.limits.pongTimeout = pongTimeout }
        if let idleTimeout { c.limits.idleTimeout = idleTimeout > 0 ? idleTimeout : nil }
        if let maxSendQueue { c.limits.maxSendQueue = maxSendQueue }
        if let maxHandshakeRate { c.limits.handshakesPerSecondPerAddress = maxHandshakeRate }
        if let logLevel { c.log.level = logLevel }
        if let logFormat { c.log.format = logFormat }
        if msrpPort != nil || msrpHost != nil || msrpRealm != nil || msrpHtdigest != nil || msrpCaFile != nil
            || msrpTransactionTimeout != nil || msrpNonceSecretFile != nil || msrpMaxChunkSize != nil {
            // The flags configure the relay on /msrp (added when the file has none).
            if !c.services.contains(where: { if case .msrp = $0.kind { return true } else { return false } }) {
                var flagged = GatewayConfiguration.MSRP()
                flagged.fromFlags = true
                c.services.append(.init(path: "/msrp", kind: .msrp(flagged), allowedOrigins: nil, compression: nil))
            }
            for i in c.services.indices {
                guard case .msrp(var options) = c.services[i].kind else { continue }
                if let msrpPort { options.port = msrpPort }
                if let msrpHost { options.host = msrpHost }
                if let msrpRealm { options.realm = msrpRealm }
                if let msrpHtdigest { options.htdigest = msrpHtdigest }
                if let msrpCaFile { options.caFile = msrpCaFile }
                if let msrpTransactionTimeout { options.transactionTimeout = msrpTransactionTimeout }
                if let msrpMaxChunkSize { options.maxChunkSize = msrpMaxChunkSize }
                if let msrpNonceSecretFile { options.nonceSecretFile = msrpNonceSecretFile }
                c.services[i].kind = .msrp(options)
            }
        }
        if noMetrics { c.monitoring.metricsPath = nil }
        if noConsole { c.monitoring.consolePath = nil }
        for spec in execs {
            let (path, command) = try Self.parseExec(spec)
            c.services.removeAll { $0.path == path }
            c.services.append(.init(path: path, kind: .exec(ExecService.Settings(command: command)), allowedOrigins: nil,
                                    compression: .default))
        }
        for spec in tcpProxies {
            let (path, host, port) = try Self.parseTCPProxy(spec)
            c.services.removeAll { $0.path == path }
            c.services.append(.init(path: path, kind: .tcpProxy(host: host, port: port), allowedOrigins: nil, compression: .default))
        }
        for i in c.services.indices {
            if noCompression { c.services[i].compression = nil }
            if !allowedOrigins.isEmpty { c.services[i].allowedOrigins = allowedOrigins }
            if rateLimitMessages != nil || rateLimitBytes != nil {
                var limit = c.services[i].rateLimit ?? InboundRateLimit()
                if let rateLimitMessages { limit.messagesPerSecond = rateLimitMessages }
                if let rateLimitBytes { limit.bytesPerSecond = rateLimitBytes }
                c.services[i].rateLimit = limit
            }
            if (jwtSecretFile != nil || mtls || apiKeyFile != nil), c.services[i].auth == nil {
                var auth = GatewayConfiguration.Auth(jwt: jwtSecretFile.map { .init(secretFile: $0) }, apiKeyFile: apiKeyFile)
                auth.mtls = mtls
                c.services[i].auth = auth
            }
        }
        return c
    }

    func run() async throws {
        if let checkConfig {
            let c = try Self.load(checkConfig)
            do {
                _ = try await c.makeAccessPolicies()
                try c.checkMSRPFiles()
                _ = try c.makeBackplane(logger: Logger(label: "wsgate.check-config"))
            } catch {
                printError("\(checkConfig): \(error)")
                throw ExitCode(1)
            }
            writeLine("\(checkConfig): ok (\(c.listeners.count) listener(s), services \(c.services.map(\.path).joined(separator: ", ")))", to: 1)
            return
        }
        let gateway = try effectiveConfiguration()
        let logger = makeLogger(level: gateway.log.level, format: gateway.log.format)
        // One registry for the gateway's own figures and anything else in the process that uses swift-metrics.
        let monitoring = GatewayMonitoring()
        MetricsSystem.bootstrap(monitoring.factory)
        let relays: [String: (relay: MSRPRelayService, tcpPort: Int)]
        do {
            relays = try gateway.makeMSRPRelays(logger: logger)
        } catch {
            throw ValidationError("\(error)")
        }
        let access: [String: AccessPolicy]
        do {
            access = try await gateway.makeAccessPolicies()
        } catch {
            throw ValidationError("\(error)")
        }
        for (path, policy) in access.sorted(by: { $0.key < $1.key }) {
            logger.notice("access control on \(path)", metadata: [
                "methods": "\(policy.methods.map { ($0 as? JWTAuthenticator).map { "jwt (\($0.algorithms.joined(separator: ", ")))" } ?? $0.method }.joined(separator: ", "))",
                "credentials": "\(Self.describe(policy.sources))",
            ])
        }
        let backplane: PostgresBackplane?
        do {
            backplane = try gateway.makeBackplane(logger: logger, monitoring: monitoring)
        } catch {
            throw ValidationError("\(error)")
        }
        let router = gateway.makeRouter(logger: logger, monitoring: monitoring, msrpRelays: relays.mapValues(\.relay),
                                        access: access, backplane: backplane)
        if let backplane { try await startBackplane(backplane, monitoring: monitoring, logger: logger) }
        for (path, entry) in relays.sorted(by: { $0.key < $1.key }) {
            let channel = try await entry.relay.startTCPListener(host: gateway.listeners[0].host, port: entry.tcpPort)
            let auth = access[path] != nil ? "the WebSocket handshake's identity" + (entry.relay.settings.realm.map { ", or digest, realm \($0)" } ?? "")
                : entry.relay.settings.realm.map { "digest, realm \($0)" } ?? "none"
            // With a certificate the port takes msrps and plain msrp alike; Use-Path names it msrps.
            let scheme = entry.relay.settings.tls == nil ? "msrp" : "msrps"
            logger.notice("MSRP relay listening on \(scheme)://\(gateway.listeners[0].host):\(channel.localAddress?.port ?? entry.tcpPort);tcp",
                          metadata: ["websocket": "\(path)", "auth": "\(auth)",
                                     "nonces": "\(entry.relay.settings.nonceSecret == nil ? "key random per process" : "shared key")"])
            if entry.relay.settings.realm == nil, access[path] == nil {
                logger.warning("the MSRP relay admits anonymous AUTH: give it --jwt-secret-file, --msrp-realm with --msrp-htdigest, or auth in a file")
            }
        }
        let configurations: [ServerConfiguration]
        do {
            configurations = try gateway.makeServerConfigurations()
        } catch {
            throw ValidationError("\(error)")
        }
        var servers: [WebSocketServer] = []
        for configuration in configurations {
            let server = try await WebSocketServer.start(configuration: configuration, router: router,
                                                         metrics: monitoring.metrics, logger: logger)
            servers.append(server)
            let bound = server.localAddress.map { "\($0.ipAddress ?? configuration.host):\($0.port ?? configuration.port)" }
                ?? "\(configuration.host):\(configuration.port)"
            let scheme = configuration.tls == nil ? "ws" : (configuration.tls!.allowPlaintext ? "wss+ws" : "wss")
            let compressed = gateway.services.contains { $0.compression != nil }
            let deflate = compressed
                ? "on (up to \(PerMessageDeflateCodec(parameters: .init(), role: .server).memoryBound / 1024) KiB zlib state per compressing connection)"
                : "off"
            logger.notice("wsgate listening on \(scheme)://\(bound)", metadata: [
                "services": "\(router.paths.joined(separator: ", "))", "permessage-deflate": "\(deflate)",
                "http": "\(router.resourcePaths.joined(separator: ", "))",
            ])
        }

        // SIGTERM / SIGINT: stop accepting, close 1001 to every client, wait for them (bounded), exit 0.
        let group = ServiceGroup(configuration: .init(
            services: servers, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("stopped")
    }
}

extension Serve {
    /// Connects the backplane in the background, reports it to the console, and waits a moment for it: with
    /// `required: true` an unreachable PostgreSQL stops the start; otherwise the node serves its local clients and
    /// the backplane keeps retrying.
    func startBackplane(_ backplane: PostgresBackplane, monitoring: GatewayMonitoring, logger: Logger) async throws {
        let configuration = backplane.configuration
        monitoring.reportCluster {
            let status = backplane.status
            return ClusterSummary(node: status.nodeID, state: status.connected ? "connected" : "connecting", url: status.url,
                                  published: status.published, received: status.received, queued: status.queued,
                                  gaps: status.gaps, lagSeconds: status.lagSeconds)
        }
        Task { await backplane.run() }
        let metadata: Logger.Metadata = ["node": "\(configuration.nodeID)", "url": "\(configuration.displayURL)",
                                         "retention_seconds": "\(configuration.retentionSeconds)"]
        if await backplane.waitUntilConnected(timeout: configuration.required ? .seconds(10) : .seconds(3)) {
            logger.notice("backplane connected", metadata: metadata)
        } else if configuration.required {
            logger.critical("cannot reach the backplane's PostgreSQL, and the configuration says required: true", metadata: metadata)
            throw ExitCode(1)
        } else {
            logger.warning("cannot reach the backplane's PostgreSQL yet: serving this node's clients alone, retrying", metadata: metadata)
        }
    }

    /// Where a service reads credentials, for the startup log.
    static func describe(_ sources: CredentialSources) -> String {
        var out: [String] = []
        if sources.authorizationHeader { out.append("Authorization: Bearer") }
        if let name = sources.queryParameter { out.append("query \(name)") }
        if let name = sources.cookie { out.append("cookie \(name)") }
        if sources.subprotocol { out.append("subprotocol") }
        return out.joined(separator: ", ")
    }
}

/// The process's logger: swift-log's stream handler (text), or one JSON object per line (`json`).
func makeLogger(level: String, format: String = "text") -> Logger {
    var logger = format == "json" ? Logger(label: "wsgate") { JSONLogHandler(label: $0) } : Logger(label: "wsgate")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
