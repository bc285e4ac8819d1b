internal import CWebSocketSIMD

/// Incremental, fail-fast UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires of text frames).
///
/// Text messages arrive in pieces — several frames, and each frame in several TCP reads — and a strict
/// endpoint must fail the connection as soon as the bytes seen so far can no longer be the prefix of valid
/// UTF-8 (Autobahn 6.4.x), not when the message ends. The state between pieces is one byte of a DFA
/// (Björn Höhrmann's construction), so the validator costs nothing per connection when idle.
///
/// Short pieces run through the DFA, skipping ASCII runs sixteen bytes at a time. Long pieces, and the rest
/// of a short piece from its first non-ASCII byte on unless that rest is short too, are split in three: the
/// DFA finishes the character the previous piece ended inside, SIMD code (`wsg_utf8_valid` in the C target
/// `CWebSocketSIMD`: AVX2 or SSSE3, chosen at run time, or portable C) checks the complete characters that
/// follow, and the DFA takes the bytes of a character the piece ends inside, so that its state carries over
/// to the next piece. The answer is the same as byte-at-a-time: the piece is valid so far exactly when all
/// three parts are, because the middle part starts and (unless invalid) ends on a character boundary.
public struct UTF8Validator: Sendable, Hashable {
    @usableFromInline static let accept: UInt8 = 0
    @usableFromInline static let reject: UInt8 = 12
    /// Pieces of at least this many bytes go straight to `validateLong` (SIMD).
    @usableFromInline static let longPieceCount = 256
    /// In shorter pieces, the inlined DFA loop skips ASCII itself and hands over to `validateLong` at the
    /// first other byte if at least this many bytes are left; below that a call costs more than it saves.
    @usableFromInline static let handOverCount = 64

    @usableFromInline var state: UInt8 = UTF8Validator.accept

    public init() {}

    /// True when the bytes seen so far end on a character boundary: a text message may end here.
    @inlinable public var isAtCharacterBoundary: Bool { state == Self.accept }

    /// Forgets everything seen; ready for a new message.
    @inlinable public mutating func reset() { state = Self.accept }

    /// Feeds more bytes. Returns false as soon as the input is known not to be UTF-8; once false, stays false.
    @inlinable
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard let base = bytes.baseAddress else { return state != Self.reject }
        return validate(base, count: bytes.count)
    }

    @inlinable
    public mutating func validate(_ base: UnsafeRawPointer, count: Int) -> Bool {
        if state == Self.reject { return false }
        if count >= Self.longPieceCount { return validateLong(base, count: count) }
        var s = state
        var i = 0
        let ok: Bool = UTF8Validator.table.withUnsafeBufferPointer { table in
            while i < count {
                if s == Self.accept {
                    // Fast path: skip whole ASCII words while at a character boundary.
                    while i &+ 16 <= count {
                        let a = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                        let b = base.loadUnaligned(fromByteOffset: i &+ 8, as: UInt64.self)
                        if (a | b) & 0x8080_8080_8080_8080 != 0 { break }
                        i &+= 16
                    }
                    while i &+ 8 <= count {
                        let a = base.loadUnaligned(fromByteOffset: i, as: UInt64.self)
                        if a & 0x8080_8080_8080_8080 != 0 { break }
                        i &+= 8
                    }
                    if i >= count || count &- i >= Self.handOverCount { break }
                }
                let byte = base.load(fromByteOffset: i, as: UInt8.self)
                let type = table[Int(byte)]
                s = table[256 &+ Int(s) &+ Int(type)]
                if s == Self.reject { return false }
                i &+= 1
            }
            return true
        }
        state = ok ? s : Self.reject
        if ok && i < count { return validateLong(base + i, count: count &- i) }
        return ok
    }

    /// `validate` for long pieces: the DFA up to the first character boundary, SIMD over the complete
    /// characters after it, the DFA again over a character cut off at the end.
    @usableFromInline
    mutating func validateLong(_ base: UnsafeRawPointer, count: Int) -> Bool {
        let previous = state
        state = UTF8Validator.table.withUnsafeBufferPointer { table -> UInt8 in
            // 1. Finish the character the previous piece ended inside (at most three bytes).
            var s = previous
            var start = 0
            while s != Self.accept && start < count {
                s = table[256 &+ Int(s) &+ Int(table[Int(base.load(fromByteOffset: start, as: UInt8.self))])]
                if s == Self.reject { return Self.reject }
                start &+= 1
            }
            // 2. Where the last complete character ends: look back over at most three continuation bytes for a
            //    lead byte whose sequence runs past the end. Anything else (ASCII, a complete sequence, or an
            //    invalid run of continuations) stays in the span for the SIMD check.
            var end = count
            var back = 1
            while back <= 3 && count &- back >= start {
                let byte = base.load(fromByteOffset: count &- back, as: UInt8.self)
                if byte < 0x80 { break }
                if byte >= 0xC0 {
                    let length = byte >= 0xF0 ? 4 : byte >= 0xE0 ? 3 : 2
                    if length > back { end = count &- back }
                    break
                }
                back &+= 1
            }
            // 3. The span of complete characters; an invalid byte there makes the whole piece invalid.
            if end > start && !wsg_utf8_valid(base + start, end &- start) { return Self.reject }
            // 4. The start of the character the piece ends inside, carried to the next piece.
            s = Self.accept
            var i = end
            while i < count {
                s = table[256 &+ Int(s) &+ Int(table[Int(base.load(fromByteOffset: i, as: UInt8.self))])]
                if s == Self.reject { return Self.reject }
                i &+= 1
            }
            return s
        }
        return state != Self.reject
    }

    /// Validates a whole, self-contained byte sequence.
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var v = UTF8Validator()
        return v.validate(bytes) && v.isAtCharacterBoundary
    }

    /// Byte classes (first 256 entries) followed by the transition table (states are multiples of 12).
    @usableFromInline
    static let table: [UInt8] = [
        // 0x00–0x7F: ASCII
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0, 0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,
        // 0x80–0xBF: continuation bytes, split by the ranges the lead bytes E0/ED/F0/F4 restrict
        1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1, 9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,9,
        7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7, 7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,7,
        // 0xC0–0xDF: C0/C1 are overlong, the rest lead 2-byte sequences
        8,8,2,2,2,2,2,2,2,2,2,2,2,2,2,2, 2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,2,
        // 0xE0–0xFF
        10,3,3,3,3,3,3,3,3,3,3,3,3,4,3,3, 11,6,6,6,5,8,8,8,8,8,8,8,8,8,8,8,
        // transitions: state + class -> state
        0,12,24,36,60,96,84,12,12,12,48,72, 12,12,12,12,12,12,12,12,12,12,12,12,
        12, 0,12,12,12,12,12, 0,12, 0,12,12, 12,24,12,12,12,12,12,24,12,24,12,12,
        12,12,12,12,12,12,12,24,12,12,12,12, 12,24,12,12,12,12,12,12,12,24,12,12,
        12,12,12,12,12,12,12,36,12,36,12,12, 12,36,12,12,12,12,12,36,12,36,12,12,
        12,36,12,12,12,12,12,12,12,12,12,12,
    ]
}
