import Histogram
import NIOCore

/// Counters and the latency histogram of one event loop. Touched only on that loop, so recording costs
/// no lock; the generator merges the loops' stats at the end. Not `Sendable`: the generator holds each in a
/// `NIOLoopBoundBox` and reaches it through `eventLoop.submit`.
final class LoopStats {
    enum Phase { case warmup, measuring, stopping }

    let eventLoop: any EventLoop
    var phase: Phase = .warmup
    var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    var messages: UInt64 = 0
    var bytes: UInt64 = 0
    var handshakes: UInt64 = 0
    var errors: UInt64 = 0
    /// Messages since the start, for progress lines.
    var progress: UInt64 = 0
    var established = 0

    init(eventLoop: any EventLoop) { self.eventLoop = eventLoop }

    @inline(__always)
    func recordMessage(latencyNanos: UInt64, bytes count: Int) {
        progress &+= 1
        guard phase == .measuring else { return }
        messages &+= 1
        bytes &+= UInt64(count)
        _ = histogram.record(latencyNanos / 1000)
    }
}

@inline(__always)
func monotonicNanos() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
