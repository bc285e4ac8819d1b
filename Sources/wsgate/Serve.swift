import ArgumentParser
import Dispatch
import Logging
import NIOCore
import NIOPosix
import WSGateServices
import ServiceLifecycle
import WebSocketEngine
import WebSocketTransport

#if canImport(Glibc)
import Glibc
#endif

/// `wsgate serve`: the gateway with its embedded default configuration.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the gateway (embedded default configuration: /echo and /broadcast).")

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8080
    @Option(help: "Largest accepted message in bytes (close 1009 above it).") var maxMessageSize = 16 << 20
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @Option(help: "Log format: text, or json (one object per line).") var logFormat = "text"
    @Flag(help: "Decline permessage-deflate offers (compression is on by default).") var noCompression = false
    @Option(help: "PEM certificate chain (leaf first): serve wss:// on --port.") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Flag(help: "With TLS, also serve plain ws:// on the same port (told apart by the first byte).") var tlsAllowPlaintext = false
    @Option(name: .customLong("allowed-origin"),
            help: "Browser origin allowed to connect, e.g. https://app.example or https://*.example (repeatable; default: any). Others get 403.")
    var allowedOrigins: [String] = []
    @Option(name: .customLong("tcp-proxy"),
            help: "Mount a TCP proxy (websockify): PATH=HOST:PORT, e.g. /vnc=127.0.0.1:5900 (repeatable).")
    var tcpProxies: [String] = []
    @Option(help: "Connections held at once; more are answered 503.") var maxConnections = 100_000
    @Option(help: "Connections held at once from one client address; more are answered 503 (default: no limit).")
    var maxConnectionsPerAddress: Int?
    @Option(help: "Seconds a graceful shutdown (SIGTERM, SIGINT) waits for clients to answer close 1001.")
    var shutdownGrace: Double = 10
    @Option(help: "Ping a client after this many seconds without a frame from it (0: never).") var pingInterval: Double = 30
    @Option(help: "Seconds a pinged client may stay silent before close 1011.") var pongTimeout: Double = 20
    @Option(help: "Close 1001 after this many seconds without a data message either way (0: never).") var idleTimeout: Double = 0
    @Option(help: "Bytes that may queue for a client that does not read before close 1008.") var maxSendQueue = 64 << 20

    /// `PATH=HOST:PORT` (an IPv6 host in brackets).
    static func parseTCPProxy(_ spec: String) throws -> (String, String, Int) {
        guard let eq = spec.firstIndex(of: "="), spec.hasPrefix("/"), let colon = spec.lastIndex(of: ":"), colon > eq,
              let port = Int(spec[spec.index(after: colon)...]), (1...65535).contains(port) else {
            throw ValidationError("--tcp-proxy wants PATH=HOST:PORT, e.g. /vnc=127.0.0.1:5900: \(spec)")
        }
        var host = spec[spec.index(after: eq)..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw ValidationError("--tcp-proxy \(spec): no host") }
        return (String(spec[..<eq]), String(host), port)
    }

    func validate() throws {
        for spec in tcpProxies { _ = try Self.parseTCPProxy(spec) }
        if !["text", "json"].contains(logFormat) { throw ValidationError("--log-format must be text or json") }
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsAllowPlaintext, tlsCert == nil { throw ValidationError("--tls-allow-plaintext needs --tls-cert and --tls-key") }
    }

    func run() async throws {
        let logger = makeLogger(level: logLevel, format: logFormat)
        var configuration = ServerConfiguration(host: host, port: port)
        configuration.engine.maxMessageSize = maxMessageSize
        configuration.engine.maxFrameSize = maxMessageSize
        if let tlsCert, let tlsKey {
            do {
                configuration.tls = try ServerTLS(certificateChainFile: tlsCert, privateKeyFile: tlsKey, allowPlaintext: tlsAllowPlaintext)
            } catch {
                throw ValidationError("\(error)")
            }
        }
        configuration.maxConnections = maxConnections
        configuration.maxConnectionsPerAddress = maxConnectionsPerAddress ?? .max
        configuration.shutdownGracePeriod = seconds(shutdownGrace)
        configuration.pingInterval = pingInterval > 0 ? seconds(pingInterval) : nil
        configuration.pongTimeout = seconds(pongTimeout)
        configuration.idleTimeout = idleTimeout > 0 ? seconds(idleTimeout) : nil
        configuration.maxSendQueueBytes = maxSendQueue
        let origins: OriginPolicy = allowedOrigins.isEmpty ? .any : .only(allowedOrigins)
        var router = DefaultServices.router(compression: noCompression ? nil : .default, origins: origins)
        for spec in tcpProxies {
            let (path, host, port) = try Self.parseTCPProxy(spec)
            router.mount(TCPProxyService(host: host, port: port, logger: logger), at: path,
                         compression: noCompression ? nil : .default, origins: origins)
        }
        let server = try await WebSocketServer.start(configuration: configuration, router: router, logger: logger)
        let bound = server.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)"
        let scheme = configuration.tls == nil ? "ws" : (tlsAllowPlaintext ? "wss+ws" : "wss")
        let deflate = noCompression ? "off" : "on (up to \(PerMessageDeflateCodec(parameters: .init(), role: .server).memoryBound / 1024) KiB zlib state per compressing connection)"
        logger.notice("wsgate listening on \(scheme)://\(bound)", metadata: [
            "services": "\(router.paths.joined(separator: ", "))", "permessage-deflate": "\(deflate)",
        ])

        // SIGTERM / SIGINT: stop accepting, close 1001 to every client, wait for them (bounded), exit 0.
        let group = ServiceGroup(configuration: .init(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.notice("stopped")
    }
}

/// The embedded default configuration: what `wsgate serve` mounts without a config file.
enum DefaultServices {
    static func router(compression: PerMessageDeflate.ServerSettings? = .default, origins: OriginPolicy = .any) -> ServiceRouter {
        var router = ServiceRouter()
        router.mount(EchoService(), at: "/echo", compression: compression, origins: origins)
        router.mount(BroadcastService(), at: "/broadcast", compression: compression, origins: origins)
        return router
    }
}

func seconds(_ s: Double) -> TimeAmount { .nanoseconds(Int64(s * 1e9)) }

/// The process's logger: swift-log's stream handler (text), or one JSON object per line (`json`).
func makeLogger(level: String, format: String = "text") -> Logger {
    var logger = format == "json" ? Logger(label: "wsgate") { JSONLogHandler(label: $0) } : Logger(label: "wsgate")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
