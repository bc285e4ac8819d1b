// Benchmark peer: hummingbird-websocket echo, written the way its README and Snippets do it:
// a WebSocket router with one route, /echo, whose handler iterates whole messages and writes each back
// (text as text, binary as binary). Ping/pong and close are handled by the library.
//
//   hummingbird-echo [PORT] [HOST] [--compression] [--tls-cert=PEM --tls-key=PEM]
//                                          (defaults: 9002 127.0.0.1)
//
// --compression adds HummingbirdWSCompression's permessage-deflate with its defaults (context takeover, zlib's
// default level; messages under 256 B go uncompressed, the library's own threshold). --tls-cert/--tls-key serve
// wss:// through HummingbirdTLS (`.tls(…, tlsConfiguration:)`, NIOSSL underneath).
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWSCompression
import HummingbirdWebSocket
import Logging
import NIOSSL

let arguments = CommandLine.arguments.filter { !$0.hasPrefix("--") }
let port = arguments.count > 1 ? Int(arguments[1]) ?? 9002 : 9002
let host = arguments.count > 2 ? arguments[2] : "127.0.0.1"
func flagValue(_ name: String) -> String? {
    CommandLine.arguments.first { $0.hasPrefix("--\(name)=") }.map { String($0.dropFirst(name.count + 3)) }
}
let compression = CommandLine.arguments.contains("--compression")
enum Limits { static let maxSize = 16 << 20 }  // largest message and frame: 16 MiB

var logger = Logger(label: "hummingbird-echo")
logger.logLevel = .warning

let wsRouter = Router(context: BasicWebSocketRequestContext.self)
wsRouter.ws("/echo") { inbound, outbound, _ in
    for try await message in inbound.messages(maxSize: Limits.maxSize) {
        switch message {
        case .text(let text):
            try await outbound.write(.text(text))
        case .binary(let buffer):
            try await outbound.write(.binary(buffer))
        }
    }
}

let webSocketServer = HTTPServerBuilder.http1WebSocketUpgrade(
    webSocketRouter: wsRouter,
    configuration: .init(ws: .init(
        maxFrameSize: Limits.maxSize,
        extensions: compression ? [.perMessageDeflate(maxDecompressedFrameSize: Limits.maxSize)] : []))
)
let server: HTTPServerBuilder
if let cert = flagValue("tls-cert") {
    guard let key = flagValue("tls-key") else { fatalError("--tls-cert needs --tls-key") }
    server = try .tls(webSocketServer, tlsConfiguration: .makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem))))
} else {
    server = webSocketServer
}

let app = Application(
    router: Router(),
    server: server,
    configuration: .init(address: .hostname(host, port: port), backlog: 4096),
    logger: logger
)
let scheme = flagValue("tls-cert") == nil ? "ws" : "wss"
print("hummingbird-echo listening on \(scheme)://\(host):\(port)/echo\(compression ? " (permessage-deflate)" : "")")
try await app.runService()
