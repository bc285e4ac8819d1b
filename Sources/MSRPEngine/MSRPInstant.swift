/// A reading of the I/O layer's monotonic clock, in nanoseconds. The engine keeps no clock of its own: every rule
/// that depends on time (session expiry, nonce age, a next hop's deadline) takes `now` as a parameter, so tests
/// move time by passing a later instant instead of waiting.
public struct MSRPInstant: Sendable, Hashable, Comparable {
    public var nanoseconds: UInt64

    public init(nanoseconds: UInt64) {
        self.nanoseconds = nanoseconds
    }

    public static func seconds(_ seconds: UInt64) -> MSRPInstant {
        MSRPInstant(nanoseconds: seconds * 1_000_000_000)
    }

    /// Whole seconds: what AUTH's `Expires` and Digest nonces count in.
    public var seconds: UInt64 { nanoseconds / 1_000_000_000 }

    public static func < (lhs: MSRPInstant, rhs: MSRPInstant) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// `duration` later (a negative duration counts as none).
    public static func + (instant: MSRPInstant, duration: Duration) -> MSRPInstant {
        let (seconds, attoseconds) = duration.components
        guard seconds >= 0, attoseconds >= 0 else { return instant }
        return MSRPInstant(nanoseconds: instant.nanoseconds + UInt64(seconds) * 1_000_000_000 + UInt64(attoseconds / 1_000_000_000))
    }
}
