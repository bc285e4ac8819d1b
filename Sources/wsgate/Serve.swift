import ArgumentParser
import Dispatch
import Logging
import NIOCore
import NIOPosix
import WSGateServices
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
    @Flag(help: "Decline permessage-deflate offers (compression is on by default).") var noCompression = false
    @Option(help: "PEM certificate chain (leaf first): serve wss:// on --port.") var tlsCert: String?
    @Option(help: "PEM private key of --tls-cert.") var tlsKey: String?
    @Flag(help: "With TLS, also serve plain ws:// on the same port (told apart by the first byte).") var tlsAllowPlaintext = false

    func validate() throws {
        if (tlsCert == nil) != (tlsKey == nil) { throw ValidationError("--tls-cert and --tls-key go together") }
        if tlsAllowPlaintext, tlsCert == nil { throw ValidationError("--tls-allow-plaintext needs --tls-cert and --tls-key") }
    }

    func run() async throws {
        let logger = makeLogger(level: logLevel)
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
        let router = DefaultServices.router(compression: noCompression ? nil : .default)
        let server = try await WebSocketServer.start(configuration: configuration, router: router, logger: logger)
        let bound = server.localAddress.map { "\($0.ipAddress ?? host):\($0.port ?? port)" } ?? "\(host):\(port)"
        let scheme = configuration.tls == nil ? "ws" : (tlsAllowPlaintext ? "wss+ws" : "wss")
        let deflate = noCompression ? "off" : "on (up to \(PerMessageDeflateCodec(parameters: .init(), role: .server).memoryBound / 1024) KiB zlib state per compressing connection)"
        logger.notice("wsgate listening on \(scheme)://\(bound)", metadata: [
            "services": "\(router.paths.joined(separator: ", "))", "permessage-deflate": "\(deflate)",
        ])

        let stop = SignalWatcher(signals: [SIGINT, SIGTERM]) { signal in
            logger.notice("received signal \(signal), stopping")
            Task { try? await server.close() }
        }
        try await server.waitUntilClosed()
        withExtendedLifetime(stop) {}
    }
}

/// The embedded default configuration: what `wsgate serve` mounts without a config file.
enum DefaultServices {
    static func router(compression: PerMessageDeflate.ServerSettings? = .default) -> ServiceRouter {
        var router = ServiceRouter()
        router.mount(EchoService(), at: "/echo", compression: compression)
        router.mount(BroadcastService(), at: "/broadcast", compression: compression)
        return router
    }
}

/// Calls `handler` when one of `signals` arrives (the default action is disabled meanwhile).
final class SignalWatcher {
    private let sources: [any DispatchSourceSignal]

    init(signals: [Int32], handler: @escaping @Sendable (Int32) -> Void) {
        sources = signals.map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { handler(sig) }
            source.resume()
            return source
        }
    }
}

func makeLogger(level: String) -> Logger {
    var logger = Logger(label: "wsgate")
    logger.logLevel = Logger.Level(rawValue: level) ?? .info
    return logger
}
