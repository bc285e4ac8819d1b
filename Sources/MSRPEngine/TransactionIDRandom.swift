/// The generator of the ids a relay makes for every request it forwards (RFC 4975 §7.1: at least 64 bits of
/// randomness, so that ids do not collide): xoshiro256** seeded from the system's generator once. The system
/// generator is a system call per 64 bits, a measurable part of a relay's CPU at thousands of requests a second;
/// what must be unguessable — session ids, nonce keys — still comes from the system generator.
public struct TransactionIDRandom: RandomNumberGenerator, Sendable {
    private var s: (UInt64, UInt64, UInt64, UInt64)

    public init() {
        var system = SystemRandomNumberGenerator()
        s = (system.next(), system.next(), system.next(), system.next())
        if s == (0, 0, 0, 0) { s.0 = 1 } // the one state xoshiro cannot leave
    }

    public mutating func next() -> UInt64 {
        let result = rotl(s.1 &* 5, 7) &* 9
        let t = s.1 << 17
        s.2 ^= s.0
        s.3 ^= s.1
        s.1 ^= s.2
        s.0 ^= s.3
        s.2 ^= t
        s.3 = rotl(s.3, 45)
        return result
    }

    private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
