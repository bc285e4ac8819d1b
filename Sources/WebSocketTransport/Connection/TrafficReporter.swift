import NIOCore

/// When a connection hands its traffic figures to the service's metrics.
///
/// The metrics are shared by every connection of a service across event loops, so a connection reports at most
/// once per `interval`: a flush reports if that long has passed, else one report is scheduled for when it has.
/// Contention stays bounded under any message rate while the figures are never more than `interval` old.
struct TrafficReporter {
    static let interval: TimeAmount = .milliseconds(100)

    /// Traffic not yet reported.
    private(set) var tally = TrafficTally()
    private var nextReport = NIODeadline.uptimeNanoseconds(0)
    private var reportScheduled = false

    enum Step {
        case nothing
        /// Hand these figures to the metrics now.
        case report(TrafficTally)
        /// Schedule one report for this time (nothing is due before it).
        case schedule(at: NIODeadline)
    }

    @inline(__always)
    mutating func received(bytes: Int) { tally.received(bytes: bytes) }

    @inline(__always)
    mutating func sent(bytes: Int) { tally.sent(bytes: bytes) }

    var hasUnreported: Bool { !tally.isEmpty }

    /// What to do with the tally at `now`; nil `now`: the connection is ending, so report at once.
    mutating func step(now: NIODeadline?) -> Step {
        guard !tally.isEmpty else { return .nothing }
        if let now, now < nextReport {
            guard !reportScheduled else { return .nothing }
            reportScheduled = true
            return .schedule(at: nextReport)
        }
        let due = tally
        tally = TrafficTally()
        nextReport = (now ?? .now()) + Self.interval
        return .report(due)
    }

    /// The scheduled report ran, or could not be scheduled.
    mutating func scheduledReportDone() { reportScheduled = false }
}
