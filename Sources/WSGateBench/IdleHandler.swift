import WebSocketAPI

/// A connection of the idle scenario: it counts itself, sends its `count` messages one after another (each after
/// the echo of the one before: memory "after a message each"), and then only holds the connection.
final class IdleHandler: WebSocketHandler {
    private let stats: LoopStats
    private let messages: [WebSocketMessage]
    private var remaining: Int
    private var next: Int
    private(set) weak var connection: (any WebSocketConnection)?

    init(stats: LoopStats, messages: [WebSocketMessage] = [], count: Int = 0) {
        self.stats = stats
        self.messages = messages
        self.remaining = messages.isEmpty ? 0 : count
        self.next = messages.count > 1 ? Int.random(in: 0..<messages.count) : 0
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        self.connection = connection
        stats.established += 1
        sendNext()
    }

    private func sendNext() {
        guard remaining > 0, let connection else { return }
        remaining -= 1
        let message = messages[next]
        next = (next + 1) % messages.count
        connection.send(message)
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        stats.recordMessage(latencyNanos: 0, bytes: message.data.readableBytes)
        sendNext()
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        stats.established -= 1
        if stats.phase != .stopping { stats.errors += 1 }
    }
}
