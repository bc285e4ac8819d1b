import ArgumentParser
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle
import WSGateConnect
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// `wsgate listen`: an ad-hoc server for testing clients (wscat -l, websocat -s): every message a client sends is
/// printed, every stdin line goes to every client connected.
struct Listen: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "An ad-hoc WebSocket server: prints what clients send, sends each stdin line to every client.",
        discussion: """
        Accepts on any path. Clients coming and going are told on stderr ("client N connected …"), messages go to \\
        stdout as `wsgate connect` prints them. At stdin's end it keeps serving; SIGINT or SIGTERM closes every \\
        client with 1001 and exits 0.
        """)

    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on (0: any free port, printed on stderr).") var port = 8080
    @Option(name: .customLong("subprotocol"), help: "A subprotocol to accept when a client offers it (repeatable, in order of preference).")
    var subprotocols: [String] = []
    @Flag(help: "Do not accept permessage-deflate.") var noCompression = false
    @Flag(help: "Send each stdin line as a binary message.") var binary = false
    @Flag(help: "Stdin lines are hex digits (sent binary); binary messages are printed as hex.") var hex = false
    @Flag(help: "Stdin lines are base64 (sent binary); binary messages are printed as base64.") var base64 = false
    @Flag(help: "Print one JSON object per message received (client, time, type, size, text or base64).") var json = false
    @Flag(help: "Prefix each printed line with the time it was received (ISO 8601, UTC).") var timestamps = false
    @Option(help: "Log level.") var logLevel = "warning"

    func validate() throws {
        if [binary, hex, base64].filter({ $0 }).count > 1 { throw ValidationError("--binary, --hex and --base64: give one") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0–65535") }
    }

    func run() async throws {
        let input: ConnectSettings.Input = binary ? .binary : hex ? .hex : base64 ? .base64 : .text
        let output: ConnectSettings.Output = json ? .json : hex ? .hex : base64 ? .base64 : .plain
        let clients = ListenClients(output: output, timestamps: timestamps)
        var router = ServiceRouter()
        router.mount(ListenService(clients: clients, subprotocols: subprotocols), at: "/",
                     compression: noCompression ? nil : .default, matchingSubpaths: true)
        let logger = makeLogger(level: logLevel)
        let server = try await WebSocketServer.start(configuration: ServerConfiguration(host: host, port: port),
                                                     router: router, metrics: nil, logger: logger)
        printError("listening on ws://\(host):\(server.localAddress?.port ?? port)/")
        // Stdin read as it comes: a line goes to whoever is connected when it is typed.
        Thread.detach {
            while let line = readLine(strippingNewline: true) {
                do {
                    let sent = clients.broadcast(try ConnectFormat.message(from: line, input: input))
                    if sent == 0 { printError("no client connected: line not sent") }
                } catch {
                    printError("\(error)")
                }
            }
            printError("stdin ended; still serving (SIGINT or SIGTERM to stop)")
        }
        let group = ServiceGroup(configuration: .init(
            services: [server], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

/// The clients of a `wsgate listen`, numbered as they come.
final class ListenClients: Sendable {
    private struct State {
        var next = 1
        var open: [ObjectIdentifier: (number: Int, connection: any WebSocketConnection)] = [:]
    }

    private let state = NIOLockedValueBox(State())
    private let output: ConnectSettings.Output
    private let timestamps: Bool

    init(output: ConnectSettings.Output, timestamps: Bool) {
        self.output = output
        self.timestamps = timestamps
    }

    func opened(_ connection: any WebSocketConnection) -> Int {
        let number = state.withLockedValue { state in
            defer { state.next += 1 }
            state.open[ObjectIdentifier(connection)] = (state.next, connection)
            return state.next
        }
        let request = connection.request
        printError("client \(number) connected (\(request.remoteAddress.map { "\($0)" } ?? "?"), path \(request.path))")
        return number
    }

    func received(_ message: WebSocketMessage, from number: Int) {
        let time = (timestamps || output == .json) ? ConnectFormat.timestamp() : nil
        var line = ConnectFormat.line(for: message, output: output, time: time)
        if output == .json { line = "{\"client\":\(number)," + line.dropFirst() }
        writeLine(line, to: 1)
    }

    func closed(_ connection: any WebSocketConnection, number: Int, info: WebSocketCloseInfo) {
        state.withLockedValue { _ = $0.open.removeValue(forKey: ObjectIdentifier(connection)) }
        printError("client \(number) disconnected (\(info))")
    }

    /// Sends `message` to every client connected; returns how many.
    func broadcast(_ message: WebSocketMessage) -> Int {
        let connections = state.withLockedValue { $0.open.values.map(\.connection) }
        for connection in connections { connection.send(message) }
        return connections.count
    }
}

/// Accepts every client on any path (a subprotocol of `subprotocols` when one is offered).
struct ListenService: WebSocketService {
    let clients: ListenClients
    let subprotocols: [String]

    func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
        .accept(subprotocol: subprotocols.first { offeredSubprotocols.contains($0) })
    }

    func makeHandler() -> any WebSocketHandler { Handler(clients: clients) }

    final class Handler: WebSocketHandler {
        let clients: ListenClients
        var number = 0

        init(clients: ListenClients) { self.clients = clients }

        func connectionDidOpen(_ connection: any WebSocketConnection) {
            number = clients.opened(connection)
        }

        func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
            clients.received(message, from: number)
        }

        func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
            clients.closed(connection, number: number, info: info)
        }
    }
}
