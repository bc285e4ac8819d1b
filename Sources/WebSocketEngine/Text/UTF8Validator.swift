/// Incremental, fail-fast UTF-8 validation (RFC 3629, as RFC 6455 §8.1 requires of text frames).
///
/// Text messages arrive in pieces — several frames, and each frame in several TCP reads — and a strict
/// endpoint must fail the connection as soon as the bytes seen so far can no longer be the prefix of valid
/// UTF-8 (Autobahn 6.4.x), not when the message ends. The state between pieces is one byte of a DFA
/// (Björn Höhrmann's construction), so the validator costs nothing per connection when idle.
/// ASCII runs are skipped eight bytes at a time.
public struct UTF8Validator: Sendable, Hashable {
    @usableFromInline static let accept: UInt8 = 0
    @usableFromInline static let reject: UInt8 = 12

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
                    if i >= count { break }
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
        return ok
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
