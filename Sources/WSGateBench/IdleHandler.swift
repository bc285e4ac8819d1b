import WebSocketAPI

/// A connection of the idle scenario: it only counts itself.
final class IdleHandler: WebSocketHandler {
    private let stats: LoopStats
    private(set) weak var connection: (any WebSocketConnection)?

    init(stats: LoopStats) { self.stats = stats }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        self.connection = connection
        stats.established += 1
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {}

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        stats.established -= 1
        if stats.phase != .stopping { stats.errors += 1 }
    }
}
