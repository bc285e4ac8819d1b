import NIOCore

/// A per-connection limit on what a client sends, per service: messages and bytes per second, each a token
/// bucket holding `burst` seconds of its rate. A client over it is **throttled, not dropped**: the connection
/// stops delivering its messages (what was read stays buffered) and stops reading from the socket until the
/// bucket has refilled, so TCP slows the sender down. A client that stays over the limit for `closeAfter`
/// seconds — throttled again as soon as it is let go — is closed with 1008: the hard ceiling.
public struct InboundRateLimit: Sendable, Hashable {
    public var messagesPerSecond: Double?
    public var bytesPerSecond: Double?
    /// Seconds of the rate a client may send at once after a quiet spell (the buckets' depth).
    public var burst: Double
    /// Seconds of sustained excess before close 1008; nil: throttle only, never close.
    public var closeAfter: Double?

    public init(messagesPerSecond: Double? = nil, bytesPerSecond: Double? = nil, burst: Double = 1, closeAfter: Double? = 30) {
        self.messagesPerSecond = messagesPerSecond
        self.bytesPerSecond = bytesPerSecond
        self.burst = burst
        self.closeAfter = closeAfter
    }
}

/// The state of one connection's `InboundRateLimit`: a struct the channel handler asks after each message it
/// delivered, with the time passed in (tests move it by hand).
struct InboundRateLimiter {
    enum Verdict: Equatable {
        /// Go on delivering.
        case within
        /// Stop delivering and reading for this long.
        case throttle(TimeAmount)
        /// Over the limit for `closeAfter` seconds on end: close 1008.
        case exceeded
    }

    let limit: InboundRateLimit
    var messages: TokenBucket?
    var bytes: TokenBucket?
    /// When the current run of throttles began: a throttle that continues the previous one (see `delivered`)
    /// keeps the run going, a later one starts a new run.
    private var excessSince: NIODeadline?
    private var throttleEnds: NIODeadline?
    private var lastThrottle: TimeAmount = .zero

    init(_ limit: InboundRateLimit, now: NIODeadline) {
        self.limit = limit
        messages = limit.messagesPerSecond.map { TokenBucket(rate: $0, burst: limit.burst, now: now) }
        bytes = limit.bytesPerSecond.map { TokenBucket(rate: $0, burst: limit.burst, now: now) }
    }

    /// `messages` (1, or 0 for a piece of a streamed message before its last) of `size` bytes were delivered at
    /// `now`; `waited` says it was read before the last throttle
    /// ended (it was held), so a throttle it causes continues the run however late the throttle's timer fired.
    ///
    /// A throttle also continues the run when it begins within one throttle's length of the last one's end: the
    /// client, read again, was over the limit at once. Timers on a loaded machine fire late by milliseconds, so the
    /// scheduled end alone would let a flooder start a new run every few throttles and never reach the ceiling.
    mutating func delivered(size: Int, messages count: Int = 1, now: NIODeadline, waited: Bool = false) -> Verdict {
        let wait = max(messages?.take(Double(count), now: now) ?? 0, bytes?.take(Double(size), now: now) ?? 0)
        guard wait > 0 else { return .within }
        let continues = waited || throttleEnds.map { now < $0 + max(lastThrottle, .milliseconds(1)) } ?? false
        if continues, let since = excessSince {
            if let closeAfter = limit.closeAfter, now - since >= .nanoseconds(Int64(closeAfter * 1e9)) { return .exceeded }
        } else {
            excessSince = now
        }
        let amount = TimeAmount.nanoseconds(max(Int64(wait * 1e9), 1_000_000))
        throttleEnds = now + amount
        lastThrottle = amount
        return .throttle(amount)
    }
}
