import NIOCore
import WebSocketAPI

/// One connection of the echo scenario: keeps `pipeline` messages in flight (closed loop), or sends at a
/// fixed interval (open loop), and times each echo from the moment its message was queued.
final class EchoLoadHandler: WebSocketHandler {
    private let stats: LoopStats
    /// Sent in turn (one message for filler payloads, a corpus for chat).
    private let messages: [WebSocketMessage]
    private var next = 0
    private let pipeline: Int
    private let interval: TimeAmount?
    /// Send times and sizes of the messages in flight; echoes come back in order.
    private var sentAt = CircularBuffer<(time: UInt64, size: Int)>(initialCapacity: 16)
    private weak var connection: (any WebSocketConnection)?
    private var ticker: RepeatedTask?

    init(stats: LoopStats, messages: [WebSocketMessage], pipeline: Int, interval: TimeAmount?) {
        self.stats = stats
        self.messages = messages
        // Connections start at different places in the corpus, as different users would.
        self.next = messages.count > 1 ? Int.random(in: 0..<messages.count) : 0
        self.pipeline = pipeline
        self.interval = interval
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        self.connection = connection
        stats.established += 1
        if let interval {
            // Spread the connections' ticks over one interval so they do not fire in bursts.
            let jitter = TimeAmount.nanoseconds(Int64.random(in: 0..<max(1, interval.nanoseconds)))
            // The task runs on the connection's loop, where this handler lives; the cycle it makes (self →
            // ticker → self) ends when `connectionDidClose` cancels it.
            let onLoop = NIOLoopBound(self, eventLoop: connection.eventLoop)
            ticker = connection.eventLoop.scheduleRepeatedTask(initialDelay: jitter, delay: interval) { _ in
                onLoop.value.sendOne()
            }
        } else {
            for _ in 0..<pipeline { sendOne() }
        }
    }

    private func sendOne() {
        guard stats.phase != .stopping, let connection else { return }
        let message = messages[next]
        next = next + 1 == messages.count ? 0 : next + 1
        sentAt.append((monotonicNanos(), message.data.readableBytes))
        connection.send(message)
    }

    func connection(_ connection: any WebSocketConnection, didReceive received: WebSocketMessage) {
        guard let sent = sentAt.popFirst() else {
            stats.errors += 1 // an echo nobody asked for
            return
        }
        if received.data.readableBytes != sent.size || received.kind != messages[0].kind {
            stats.errors += 1
        }
        stats.recordMessage(latencyNanos: monotonicNanos() &- sent.time, bytes: received.data.readableBytes)
        if interval == nil { sendOne() }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        ticker?.cancel()
        stats.established -= 1
        if stats.phase != .stopping { stats.errors += 1 }
    }
}
