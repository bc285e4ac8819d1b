import CoreMetrics
import NIOConcurrencyHelpers

/// The figures of one service over one protocol (`rfc6455` today; hixie and WSR connections get their own
/// label), shared by all its connections. Obtained from `GatewayMetrics.service(path:protocol:)`.
public final class ServiceMetrics: Sendable {
    struct Key: Hashable, Sendable {
        var path: String
        var `protocol`: String
    }

    /// Running totals, as the console shows them.
    public struct Totals: Sendable, Equatable, Codable {
        public var path: String
        public var `protocol`: String
        /// WebSockets open now.
        public var connections = 0
        public var handshakes = 0
        public var messagesReceived = 0
        public var messagesSent = 0
        public var bytesReceived = 0
        public var bytesSent = 0
        public var sendQueueDrops = 0
        /// Times a client was held back by the service's rate limit.
        public var throttled = 0
    }

    /// Who ended a connection, for the `initiator` label.
    public enum Initiator: String, Sendable {
        case peer
        case gateway
    }

    private let dimensions: [(String, String)]
    private let factory: any MetricsFactory
    private let handshakes: Counter
    private let open: Meter
    private let messagesReceived: Counter
    private let messagesSent: Counter
    private let bytesReceived: Counter
    private let bytesSent: Counter
    private let sendQueueDrops: Counter
    private let throttles: Counter
    private let closes = NIOLockedValueBox<[CloseKey: Counter]>([:])
    private let state: NIOLockedValueBox<Totals>

    private struct CloseKey: Hashable {
        var code: String
        var initiator: Initiator
    }

    /// The `code` label of a close: the code itself for those RFC 6455 defines (1000–2999; the engine lets only
    /// valid ones through), `3xxx` / `4xxx` for the registered and private ranges — clients choose those freely,
    /// and a label per value would let them grow the metric without bound.
    static func codeLabel(_ code: UInt16) -> String {
        switch code {
        case 3000...3999: return "3xxx"
        case 4000...4999: return "4xxx"
        default: return String(code)
        }
    }

    init(key: Key, factory: any MetricsFactory) {
        let dimensions = [("protocol", key.protocol), ("service", key.path)]
        self.dimensions = dimensions
        self.factory = factory
        handshakes = Counter(label: "wsgate_handshakes_total", dimensions: dimensions, factory: factory)
        open = Meter(label: "wsgate_connections", dimensions: dimensions, factory: factory)
        messagesReceived = Counter(label: "wsgate_messages_received_total", dimensions: dimensions, factory: factory)
        messagesSent = Counter(label: "wsgate_messages_sent_total", dimensions: dimensions, factory: factory)
        bytesReceived = Counter(label: "wsgate_received_bytes_total", dimensions: dimensions, factory: factory)
        bytesSent = Counter(label: "wsgate_sent_bytes_total", dimensions: dimensions, factory: factory)
        sendQueueDrops = Counter(label: "wsgate_send_queue_drops_total", dimensions: dimensions, factory: factory)
        throttles = Counter(label: "wsgate_rate_limit_throttles_total", dimensions: dimensions, factory: factory)
        state = NIOLockedValueBox(Totals(path: key.path, protocol: key.protocol))
    }

    var totals: Totals { state.withLockedValue { $0 } }

    /// A handshake completed and the WebSocket is open.
    package func opened() {
        handshakes.increment()
        open.increment()
        state.withLockedValue {
            $0.handshakes += 1
            $0.connections += 1
        }
    }

    /// Adds a connection's traffic since its last report.
    package func record(_ tally: TrafficTally) {
        if tally.messagesReceived > 0 {
            messagesReceived.increment(by: tally.messagesReceived)
            bytesReceived.increment(by: tally.bytesReceived)
        }
        if tally.messagesSent > 0 {
            messagesSent.increment(by: tally.messagesSent)
            bytesSent.increment(by: tally.bytesSent)
        }
        state.withLockedValue {
            $0.messagesReceived += tally.messagesReceived
            $0.bytesReceived += tally.bytesReceived
            $0.messagesSent += tally.messagesSent
            $0.bytesSent += tally.bytesSent
        }
    }

    package func sendQueueDropped() {
        sendQueueDrops.increment()
        state.withLockedValue { $0.sendQueueDrops += 1 }
    }

    /// The service's rate limit held a client back once (a rate-limit close is a `closes_total` with code 1008).
    package func throttled() {
        throttles.increment()
        state.withLockedValue { $0.throttled += 1 }
    }

    /// The WebSocket ended with `code`, closed first by `initiator`.
    package func closed(code: UInt16, initiator: Initiator) {
        open.decrement()
        state.withLockedValue { $0.connections -= 1 }
        let key = CloseKey(code: Self.codeLabel(code), initiator: initiator)
        let counter = closes.withLockedValue { all in
            if let existing = all[key] { return existing }
            let made = Counter(label: "wsgate_closes_total",
                               dimensions: dimensions + [("code", key.code), ("initiator", initiator.rawValue)],
                               factory: factory)
            all[key] = made
            return made
        }
        counter.increment()
    }
}
