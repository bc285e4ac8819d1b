import CoreMetrics
import NIOConcurrencyHelpers

/// The backplane's figures, as swift-metrics (so `/metrics` shows them with the node's id) and as totals for
/// the console: connected, published, received, lag, caught up, gaps, messages dropped from a full outbox, and
/// batches skipped because their body did not hold what their row said.
final class BackplaneMetrics: Sendable {
    private let connected: Meter
    private let caughtUp: Meter
    private let lag: Meter
    private let queued: Meter
    private let publishedCounter: Counter
    private let receivedCounter: Counter
    private let gapsCounter: Counter
    private let gapMessagesCounter: Counter
    private let droppedCounter: Counter
    private let malformedCounter: Counter
    private let totals = NIOLockedValueBox(Totals())

    /// What the console shows.
    struct Totals: Sendable, Equatable {
        var connected = false
        var caughtUp = false
        var published = 0
        var received = 0
        var gaps = 0
        var gapMessages: Int64 = 0
        var dropped = 0
        var lagSeconds = 0.0
        var queued = 0
    }

    init(nodeID: String, factory: any MetricsFactory = MetricsSystem.factory) {
        let node = [("node", nodeID)]
        connected = Meter(label: "wsgate_backplane_connected", dimensions: node, factory: factory)
        caughtUp = Meter(label: "wsgate_backplane_caught_up", dimensions: node, factory: factory)
        lag = Meter(label: "wsgate_backplane_lag_seconds", dimensions: node, factory: factory)
        queued = Meter(label: "wsgate_backplane_queued_messages", dimensions: node, factory: factory)
        publishedCounter = Counter(label: "wsgate_backplane_published_total", dimensions: node, factory: factory)
        receivedCounter = Counter(label: "wsgate_backplane_received_total", dimensions: node, factory: factory)
        gapsCounter = Counter(label: "wsgate_backplane_gaps_total", dimensions: node, factory: factory)
        gapMessagesCounter = Counter(label: "wsgate_backplane_gap_messages_total", dimensions: node, factory: factory)
        droppedCounter = Counter(label: "wsgate_backplane_dropped_total", dimensions: node, factory: factory)
        malformedCounter = Counter(label: "wsgate_backplane_malformed_batches_total", dimensions: node, factory: factory)
        connected.set(0)
        caughtUp.set(0)
    }

    var snapshot: Totals { totals.withLockedValue { $0 } }

    func setConnected(_ up: Bool) {
        connected.set(up ? 1 : 0)
        if !up { caughtUp.set(0) }
        totals.withLockedValue {
            $0.connected = up
            if !up { $0.caughtUp = false }
        }
    }

    func setCaughtUp() {
        caughtUp.set(1)
        totals.withLockedValue { $0.caughtUp = true }
    }

    func published(_ count: Int, stillQueued: Int) {
        publishedCounter.increment(by: count)
        queued.set(stillQueued)
        totals.withLockedValue {
            $0.published += count
            $0.queued = stillQueued
        }
    }

    func queuedNow(_ count: Int) {
        queued.set(count)
        totals.withLockedValue { $0.queued = count }
    }

    func received(_ count: Int, lagSeconds: Double) {
        receivedCounter.increment(by: count)
        lag.set(lagSeconds)
        totals.withLockedValue {
            $0.received += count
            $0.lagSeconds = lagSeconds
        }
    }

    func gap(messages: Int64) {
        gapsCounter.increment()
        gapMessagesCounter.increment(by: Int(messages))
        totals.withLockedValue {
            $0.gaps += 1
            $0.gapMessages += messages
        }
    }

    func malformed() { malformedCounter.increment() }

    func dropped(_ count: Int) {
        droppedCounter.increment(by: count)
        totals.withLockedValue { $0.dropped += count }
    }
}
