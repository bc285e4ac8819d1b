import Logging
import NIOCore
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// One loop of the handshake scenario: connect, send one message, wait for its echo, close, repeat.
/// A cycle's latency is from the connect call to the close completing. Made and run on its event loop; not
/// `Sendable`.
final class HandshakeLoop {
    private let stats: LoopStats
    private let url: WebSocketURL
    private let configuration: WebSocketClientConfiguration
    private let message: WebSocketMessage
    private let eventLoop: any EventLoop

    init(stats: LoopStats, url: WebSocketURL, configuration: WebSocketClientConfiguration, message: WebSocketMessage) {
        self.stats = stats
        self.url = url
        self.configuration = configuration
        self.message = message
        self.eventLoop = stats.eventLoop
    }

    func start() {
        guard stats.phase != .stopping else { return }
        let started = monotonicNanos()
        // The cycle is handed to the connection (`sending`), so it reaches this loop's state through a loop-bound
        // reference rather than sharing it: the handler's callbacks and this code run on the same loop.
        let onLoop = NIOLoopBound(self, eventLoop: eventLoop)
        let cycle = Cycle(message: message) { clean in
            let loop = onLoop.value
            loop.cycleEnded(clean: clean, started: started)
        }
        WebSocketClient.connect(to: url, configuration: configuration, handler: cycle, eventLoop: eventLoop)
            .assumeIsolated() // the connect's future is `eventLoop`'s, where this loop runs
            .whenFailure { [self] _ in
                if stats.phase != .stopping { stats.errors &+= 1 }
                // Back off a little so a refusing server is not hammered in a tight loop.
                eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(10)) { self.start() }
            }
    }

    private func cycleEnded(clean: Bool, started: UInt64) {
        if clean {
            stats.progress &+= 1
            if stats.phase == .measuring {
                stats.handshakes &+= 1
                stats.messages &+= 1
                stats.bytes &+= UInt64(message.data.readableBytes)
                _ = stats.histogram.record((monotonicNanos() &- started) / 1000)
            }
        } else if stats.phase != .stopping {
            stats.errors &+= 1
        }
        start()
    }

    private final class Cycle: WebSocketHandler {
        let message: WebSocketMessage
        let done: (Bool) -> Void
        var echoed = false

        init(message: WebSocketMessage, done: @escaping (Bool) -> Void) {
            self.message = message
            self.done = done
        }

        func connectionDidOpen(_ connection: any WebSocketConnection) { connection.send(message) }

        func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
            echoed = true
            connection.close(code: .normalClosure, reason: "")
        }

        func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
            done(echoed && info.wasClean)
        }
    }
}
