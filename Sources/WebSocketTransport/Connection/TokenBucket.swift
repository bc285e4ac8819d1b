import NIOCore

/// A token bucket: `rate` tokens a second, at most `capacity` saved up. The connection's `InboundRateLimiter`
/// and the listener's per-address `HandshakeRateLimiter` count with it; time is passed in.
struct TokenBucket: Sendable {
    var rate: Double
    var capacity: Double
    var level: Double
    var updated: NIODeadline

    /// A full bucket of `burst` seconds of `rate` (at least one token).
    init(rate: Double, burst: Double, now: NIODeadline) {
        self.rate = rate
        capacity = max(rate * burst, 1)
        level = capacity
        updated = now
    }

    /// Takes `amount` (refilled up to `now` first); the seconds until the level is back at 0, or 0. The level
    /// may go below 0: what was taken is owed.
    mutating func take(_ amount: Double, now: NIODeadline) -> Double {
        refill(now: now)
        level -= amount
        return level < 0 ? -level / rate : 0
    }

    /// Takes `amount` only if it is there; else the seconds until it will be.
    mutating func takeIfAvailable(_ amount: Double, now: NIODeadline) -> Double {
        refill(now: now)
        guard level >= amount else { return (amount - level) / rate }
        level -= amount
        return 0
    }

    /// Whether the bucket is full at `now` (an idle client's entry can be forgotten).
    mutating func isFull(now: NIODeadline) -> Bool {
        refill(now: now)
        return level >= capacity
    }

    private mutating func refill(now: NIODeadline) {
        let elapsed = Double((now - updated).nanoseconds) / 1e9
        if elapsed > 0 { level = min(capacity, level + elapsed * rate) }
        updated = now
    }
}
