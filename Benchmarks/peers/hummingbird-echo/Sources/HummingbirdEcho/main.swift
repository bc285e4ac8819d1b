// Benchmark peer: hummingbird-websocket echo, written the way its README and Snippets do it:
// a WebSocket router with one route, /echo, whose handler iterates whole messages and writes each back
// (text as text, binary as binary). Ping/pong and close are handled by the library.
//
//   hummingbird-echo [PORT] [HOST]      (defaults: 9002 127.0.0.1)
import Hummingbird
import HummingbirdWebSocket
import Logging

let arguments = CommandLine.arguments
let port = arguments.count > 1 ? Int(arguments[1]) ?? 9002 : 9002
let host = arguments.count > 2 ? arguments[2] : "127.0.0.1"
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

let app = Application(
    router: Router(),
    server: .http1WebSocketUpgrade(
        webSocketRouter: wsRouter,
        configuration: .init(ws: .init(maxFrameSize: Limits.maxSize))
    ),
    configuration: .init(address: .hostname(host, port: port), backlog: 4096),
    logger: logger
)
print("hummingbird-echo listening on ws://\(host):\(port)/echo")
try await app.runService()
