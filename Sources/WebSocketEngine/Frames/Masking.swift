/// The 32-bit masking key of a client-to-server frame (RFC 6455 §5.3).
///
/// Stored as four bytes in wire order. Unmasking is the hot loop of a server: it is done word-wide, eight
/// bytes per step, on memory the engine owns — never a byte loop, never a copying helper per frame.
package struct MaskingKey: Hashable, Sendable {
    package var b0: UInt8, b1: UInt8, b2: UInt8, b3: UInt8

    @inlinable
    package init(_ b0: UInt8, _ b1: UInt8, _ b2: UInt8, _ b3: UInt8) {
        self.b0 = b0; self.b1 = b1; self.b2 = b2; self.b3 = b3
    }

    /// A key from its network-order 32-bit value.
    @inlinable
    package init(networkOrder value: UInt32) {
        self.init(UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                  UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value))
    }

    /// A fresh key from a random number generator (clients must use an unpredictable key per frame, §10.3).
    @inlinable
    package static func random<G: RandomNumberGenerator>(using generator: inout G) -> MaskingKey {
        MaskingKey(networkOrder: UInt32.random(in: .min ... .max, using: &generator))
    }

    @inlinable
    package static func random() -> MaskingKey {
        var g = SystemRandomNumberGenerator()
        return random(using: &g)
    }

    @inlinable
    subscript(_ index: Int) -> UInt8 {
        switch index & 3 {
        case 0: return b0
        case 1: return b1
        case 2: return b2
        default: return b3
        }
    }

    /// The key repeated to 8 bytes as it lies in memory, rotated so that the first byte is key[phase].
    @inlinable
    func word(phase: Int) -> UInt64 {
        let p = phase & 3
        let k0 = UInt64(self[p]), k1 = UInt64(self[p + 1]), k2 = UInt64(self[p + 2]), k3 = UInt64(self[p + 3])
        // Little- or big-endian, building from bytes in memory order keeps the loop portable.
        let four = UInt32(k0) | UInt32(k1) << 8 | UInt32(k2) << 16 | UInt32(k3) << 24
        #if _endian(big)
        let be = UInt32(k0) << 24 | UInt32(k1) << 16 | UInt32(k2) << 8 | UInt32(k3)
        return UInt64(be) << 32 | UInt64(be)
        #else
        return UInt64(four) | UInt64(four) << 32
        #endif
    }
}

package enum Masking {
    /// XORs `count` bytes from `source` with the key into `destination` (which may equal `source`, for
    /// in-place unmasking), starting at key byte `phase`. Returns the phase for the byte after the last,
    /// so a frame's payload can be unmasked piecewise as it arrives.
    @inlinable
    @discardableResult
    package static func apply(
        key: MaskingKey, phase: Int,
        from source: UnsafeRawPointer, to destination: UnsafeMutableRawPointer, count: Int
    ) -> Int {
        let word = key.word(phase: phase)
        var i = 0
        // 32 bytes per iteration: four independent 64-bit XORs the compiler turns into vector ops.
        while i &+ 32 <= count {
            let a = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            let b = source.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
            let c = source.loadUnaligned(fromByteOffset: i &+ 16, as: UInt64.self)
            let d = source.loadUnaligned(fromByteOffset: i &+ 24, as: UInt64.self)
            destination.storeBytes(of: a ^ word, toByteOffset: i, as: UInt64.self)
            destination.storeBytes(of: b ^ word, toByteOffset: i &+ 8, as: UInt64.self)
            destination.storeBytes(of: c ^ word, toByteOffset: i &+ 16, as: UInt64.self)
            destination.storeBytes(of: d ^ word, toByteOffset: i &+ 24, as: UInt64.self)
            i &+= 32
        }
        while i &+ 8 <= count {
            let a = source.loadUnaligned(fromByteOffset: i, as: UInt64.self)
            destination.storeBytes(of: a ^ word, toByteOffset: i, as: UInt64.self)
            i &+= 8
        }
        // Tail: byte-wise, at most 7 bytes. Multiples of 8 keep the phase unchanged, so `phase + i` is right.
        while i < count {
            let byte = source.load(fromByteOffset: i, as: UInt8.self) ^ key[phase &+ i]
            destination.storeBytes(of: byte, toByteOffset: i, as: UInt8.self)
            i &+= 1
        }
        return (phase &+ count) & 3
    }

    /// In-place variant over a mutable buffer.
    @inlinable
    @discardableResult
    package static func apply(key: MaskingKey, phase: Int = 0, to buffer: UnsafeMutableRawBufferPointer) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return phase & 3 }
        return apply(key: key, phase: phase, from: UnsafeRawPointer(base), to: base, count: buffer.count)
    }
}
