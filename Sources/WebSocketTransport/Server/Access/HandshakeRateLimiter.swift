import NIOConcurrencyHelpers
import NIOCore

/// New handshakes per second per client address, for one listener: a token bucket per IP address. A handshake
/// over the limit gets `429 Too Many Requests` with `Retry-After` before anything else is decided.
///
/// The table is bounded: past `maxAddresses` entries, those whose bucket has refilled (clients that went quiet)
/// are forgotten; if all are busy, the oldest half goes — a flood from many addresses cannot grow it without end.
public final class HandshakeRateLimiter: Sendable {
    public let perSecond: Double
    public let burst: Double
    public let maxAddresses: Int
    private let buckets = NIOLockedValueBox<[String: TokenBucket]>([:])

    /// `perSecond` handshakes a second per address, `burst` seconds' worth at once (at least one).
    public init(perSecond: Double, burst: Double = 1, maxAddresses: Int = 100_000) {
        self.perSecond = perSecond
        self.burst = burst
        self.maxAddresses = maxAddresses
    }

    /// nil when a handshake from `address` may go on; else how long it should wait.
    public func admit(_ address: SocketAddress?, now: NIODeadline = .now()) -> TimeAmount? {
        guard let key = address?.ipAddress else { return nil }
        let wait = buckets.withLockedValue { all -> Double in
            if all.count >= maxAddresses, all[key] == nil { Self.prune(&all, now: now, keep: maxAddresses / 2) }
            var bucket = all[key] ?? TokenBucket(rate: perSecond, burst: burst, now: now)
            let wait = bucket.takeIfAvailable(1, now: now)
            all[key] = bucket
            return wait
        }
        return wait > 0 ? .nanoseconds(Int64(wait * 1e9)) : nil
    }

    /// Addresses tracked now (for tests and the startup log).
    public var trackedAddresses: Int { buckets.withLockedValue { $0.count } }

    private static func prune(_ all: inout [String: TokenBucket], now: NIODeadline, keep: Int) {
        for key in Array(all.keys) where all[key]!.isFull(now: now) { all[key] = nil }
        if all.count > keep {
            for key in all.sorted(by: { $0.value.updated < $1.value.updated }).prefix(all.count - keep).map(\.key) { all[key] = nil }
        }
    }
}
