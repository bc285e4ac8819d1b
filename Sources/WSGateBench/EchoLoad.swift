import NIOCore
import WebSocketAPI

/// One connection of the echo scenario: keeps `pipeline` messages in flight (closed loop), or sends at a
/// fixed interval (open loop), and times each echo from the moment its message was queued.
final class EchoLoadHandler: WebSocketHandler {
    private let stats: LoopStats
    private let message: WebSocketMessage
    private let pipeline: Int
    private let interval: TimeAmount?
    /// Send times of the messages in flight; echoes come back in order.
    private var sentAt = CircularBuffer<UInt64>(initialCapacity: 16)
    private weak var connection: (any WebSocketConnection)?
    private var ticker: RepeatedTask?

    init(stats: LoopStats, message: WebSocketMessage, pipeline: Int, interval: TimeAmount?) {
        self.stats = stats
        self.message = message
        self.pipeline = pipeline
        self.interval = interval
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        self.connection = connection
        stats.established += 1
        if let interval {
            // Spread the connections' ticks over one interval so they do not fire in bursts.
            let jitter = TimeAmount.nanoseconds(Int64.random(in: 0..<max(1, interval.nanoseconds)))
            ticker = connection.eventLoop.scheduleRepeatedTask(initialDelay: jitter, delay: interval) { [weak self] _ in
                self?.sendOne()
            }
        } else {
            for _ in 0..<pipeline { sendOne() }
        }
    }

    private func sendOne() {
        guard stats.phase != .stopping, let connection else { return }
        sentAt.append(monotonicNanos())
        connection.send(message)
    }

    func connection(_ connection: any WebSocketConnection, didReceive received: WebSocketMessage) {
        guard let sent = sentAt.popFirst() else {
            stats.errors += 1 // an echo nobody asked for
            return
        }
        if received.data.readableBytes != message.data.readableBytes || received.kind != message.kind {
            stats.errors += 1
        }
        stats.recordMessage(latencyNanos: monotonicNanos() &- sent, bytes: received.data.readableBytes)
        if interval == nil { sendOne() }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        ticker?.cancel()
        stats.established -= 1
        if stats.phase != .stopping { stats.errors += 1 }
    }
}
