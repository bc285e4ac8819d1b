import Foundation
import Logging
import NIOCore
import NIOPosix
import WSGateConnect
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// Carries out a `ConnectSession`: connects, reads stdin when asked, sends, pings, prints, closes. Everything that
/// happens — stdin, each connection's messages, pongs and close, the clock — comes in on one stream, tagged with
/// the connection it belongs to, so the session sees one event at a time and a lost connection's stragglers are
/// dropped rather than taken for the new one's.
struct ConnectRunner {
    let url: String
    let configuration: WebSocketClientConfiguration
    let settings: ConnectSettings
    let logger: Logger

    private enum Incoming: Sendable {
        /// Not tied to a connection: stdin and the clock.
        case event(ConnectSession.Event)
        /// From connection number `generation`.
        case fromConnection(Int, ConnectSession.Event)
        case opened(Int, AsyncWebSocket)
        case failed(Int, ConnectSession.ConnectFailure)
    }

    func run() async -> ConnectSession.ExitStatus {
        let (incoming, sink) = AsyncStream.makeStream(of: Incoming.self)
        let stdin = StdinLines { line in sink.yield(.event(line.map { .line($0) } ?? .stdinEnded)) }
        let clock = ContinuousClock()
        let start = clock.now
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(100))
                sink.yield(.event(.tick))
            }
        }
        defer { ticker.cancel() }

        var session = ConnectSession(settings: settings)
        var generation = 0
        var current: AsyncWebSocket?
        var actions = session.start()
        var events = incoming.makeAsyncIterator()
        while true {
            for action in actions {
                switch action {
                case .connect(let delay):
                    generation += 1
                    current = nil
                    open(generation: generation, after: delay, sink: sink)
                case .readLine:
                    stdin.request()
                case .send(let message):
                    // Awaited, so messages go out in stdin's order; a failure shows as the connection's close.
                    try? await current?.send(message)
                case .ping(let payload):
                    current?.ping(payload)
                case .close(let code, let reason):
                    current?.connection.close(code: code, reason: reason)
                case .printMessage(let message):
                    writeLine(ConnectFormat.line(for: message, output: settings.output, time: stamp()), to: 1)
                case .printPong(let payload, let roundTrip):
                    let line = ConnectFormat.line(forPong: payload, roundTrip: roundTrip, output: settings.output, time: stamp())
                    writeLine(line, to: settings.output == .json ? 1 : 2)
                case .printClose(let info):
                    if settings.output == .json {
                        writeLine(ConnectFormat.closeLine(info, time: stamp()), to: 1)
                    } else if !info.wasClean || (info.code != 1000 && info.code != 1005) {
                        printError("closed: \(info)")
                    }
                case .report(let text):
                    printError(text)
                case .exit(let status):
                    current?.connection.close(code: .goingAway, reason: "")
                    return status
                }
            }
            guard let next = await events.next() else { return .unclean }
            let event: ConnectSession.Event
            switch next {
            case .event(let e):
                event = e
            case .fromConnection(let g, let e):
                guard g == generation else { actions = []; continue }
                event = e
            case .opened(let g, let ws):
                guard g == generation else {
                    ws.connection.close(code: .goingAway, reason: "")
                    actions = []
                    continue
                }
                current = ws
                announce(ws)
                watch(ws, generation: g, sink: sink)
                event = .connected
            case .failed(let g, let failure):
                guard g == generation else { actions = []; continue }
                event = .connectFailed(failure)
            }
            actions = session.handle(event, now: clock.now - start)
        }
    }

    /// Connects after `delay`; the outcome comes back on the stream.
    private func open(generation: Int, after delay: Duration, sink: AsyncStream<Incoming>.Continuation) {
        let url = self.url, configuration = self.configuration, logger = self.logger
        Task {
            if delay > .zero { try? await Task.sleep(for: delay) }
            do {
                let ws = try await WebSocketClient.connect(to: url, configuration: configuration, logger: logger)
                sink.yield(.opened(generation, ws))
            } catch {
                sink.yield(.failed(generation, Self.failure(error)))
            }
        }
    }

    /// Forwards a connection's messages, pongs and close onto the stream.
    private func watch(_ ws: AsyncWebSocket, generation: Int, sink: AsyncStream<Incoming>.Continuation) {
        Task {
            for await message in ws.messages { sink.yield(.fromConnection(generation, .message(message))) }
            sink.yield(.fromConnection(generation, .closed(await ws.closeInfo())))
        }
        Task {
            for await payload in ws.pongs { sink.yield(.fromConnection(generation, .pong(payload))) }
        }
    }

    private func announce(_ ws: AsyncWebSocket) {
        if let p = ws.subprotocol { printError("connected (subprotocol \(p))") }
        if let deflate = ws.request.compression { printError("connected (permessage-deflate: \(deflate))") }
        if ws.request.wire != .rfc6455 { printError("connected (\(ws.request.wire.rawValue))") }
    }

    /// A refusal (the server answered, not with a WebSocket) or no connection at all.
    static func failure(_ error: any Error) -> ConnectSession.ConnectFailure {
        switch error {
        case WebSocketTransportError.handshakeRefused, WebSocketTransportError.handshakeFailed:
            return .refused("\(error)")
        case let failed as NIOConnectionError:
            // NIO's own description lists every attempt's internals; a person wants the address and the reason.
            let reason = failed.connectionErrors.first.map { Self.reason($0.error) }
                ?? (failed.dnsAError ?? failed.dnsAAAAError).map { "the name does not resolve (\($0))" } ?? "\(failed)"
            return .unreachable("cannot connect to \(failed.host):\(failed.port): \(reason)")
        default:
            return .unreachable("cannot connect: \(error)")
        }
    }

    /// An errno as the system says it ("Connection refused"), anything else as it describes itself.
    static func reason(_ error: any Error) -> String {
        guard let io = error as? IOError else { return "\(error)" }
        return String(cString: strerror(io.errnoCode))
    }

    /// The time a printed line carries, with `--timestamps` or `--json`.
    private func stamp() -> String? {
        guard settings.timestamps || settings.output == .json else { return nil }
        return ConnectFormat.timestamp()
    }
}
