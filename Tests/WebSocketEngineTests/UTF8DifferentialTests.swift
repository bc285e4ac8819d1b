import CWebSocketSIMD
import Testing
@testable import WebSocketEngine

/// Differential tests of the SIMD path of `UTF8Validator` (pieces of `UTF8Validator.longPieceCount` bytes
/// and more) and of every C implementation this CPU can run, against Swift's own decoder; and of the
/// incremental, fail-fast behaviour against feeding the same bytes one at a time (which only ever uses the
/// DFA, itself checked against Swift's decoder in UTF8Tests).
///
/// Mismatches are collected and reported together, not one `#expect` per case, to keep the suite fast.
@Suite struct UTF8DifferentialTests {
    /// The reference: Swift's own decoder.
    private static func reference(_ bytes: UnsafeRawBufferPointer) -> Bool {
        String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil
    }

    private static let implementations: [wsg_utf8_implementation] =
        [WSG_UTF8_SCALAR, WSG_UTF8_SSSE3, WSG_UTF8_AVX2].filter { wsg_utf8_implementation_available($0) }

    /// Checks one whole buffer with the validator and every C implementation; appends any disagreement.
    private static func check(_ bytes: UnsafeRawBufferPointer, expected: Bool, _ failures: inout [String],
                              _ what: @autoclosure () -> String) {
        if UTF8Validator.isValid(bytes) != expected {
            failures.append("UTF8Validator: \(what()) expected \(expected): \(hex(bytes))")
        }
        for implementation in implementations
        where wsg_utf8_valid_using(implementation, bytes.baseAddress, bytes.count) != expected {
            failures.append("C implementation \(implementation.rawValue): \(what()) expected \(expected): \(hex(bytes))")
        }
    }

    private static func hex(_ bytes: UnsafeRawBufferPointer) -> String {
        bytes.map { String($0, radix: 16) }.joined(separator: " ")
    }

    @Test func implementationsAvailable() {
        // The portable one always; on x86-64 the selected one is the best the CPU offers.
        #expect(Self.implementations.contains(WSG_UTF8_SCALAR))
        #expect(Self.implementations.last == wsg_utf8_selected_implementation())
    }

    // MARK: Random valid text, mutated

    @Test func randomMutatedTextAgreesWithSwift() {
        var rng = SplitMix64(seed: 0x5EED_0F_0071)
        var failures: [String] = []
        var invalid = 0
        for round in 0..<4000 {
            var bytes = randomText(byteCount: Int(rng.next() % 301), using: &rng)
            mutate(&bytes, round: round, using: &rng)
            bytes.withUnsafeBytes { raw in
                let expected = Self.reference(raw)
                if !expected { invalid += 1 }
                Self.check(raw, expected: expected, &failures, "round \(round)")
            }
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        #expect(invalid > 1000, "the mutations should produce plenty of invalid text (\(invalid))")
    }

    /// Pieces split at every offset (two pieces) and at random offsets (three pieces) end in the same state
    /// as byte-at-a-time after every piece, and so fail in the same piece.
    @Test func splitsFailInTheSamePieceAsByteAtATime() {
        var rng = SplitMix64(seed: 0xF00D)
        var failures: [String] = []
        var failedInLastPiece = 0, failedEarlier = 0
        for round in 0..<600 {
            var bytes = randomText(byteCount: 64 + Int(rng.next() % 237), using: &rng)
            mutate(&bytes, round: round, using: &rng)
            bytes.withUnsafeBytes { raw in
                // after[k]: the validator fed bytes 0..<k one at a time.
                var after = [UTF8Validator()]
                var single = UTF8Validator()
                for i in 0..<raw.count {
                    _ = single.validate(UnsafeRawBufferPointer(rebasing: raw[i..<(i + 1)]))
                    after.append(single)
                }
                func feed(_ cuts: [Int]) {
                    var v = UTF8Validator()
                    var from = 0
                    for to in cuts + [raw.count] {
                        let ok = v.validate(UnsafeRawBufferPointer(rebasing: raw[from..<to]))
                        if v != after[to] || ok != (after[to] != Self.rejected) {
                            failures.append("round \(round) cuts \(cuts) after \(to) bytes: \(v) (\(ok)), byte-at-a-time \(after[to]): \(Self.hex(raw))")
                            return
                        }
                        if !ok {
                            if to == raw.count { failedInLastPiece += 1 } else { failedEarlier += 1 }
                            return
                        }
                        from = to
                    }
                }
                for cut in 0...raw.count { feed([cut]) }
                for _ in 0..<40 {
                    let a = Int(rng.next() % UInt64(raw.count + 1)), b = Int(rng.next() % UInt64(raw.count + 1))
                    feed([min(a, b), max(a, b)])
                }
            }
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        #expect(failedEarlier > 1000 && failedInLastPiece > 1000, "\(failedEarlier) \(failedInLastPiece)")
    }

    private static let rejected: UTF8Validator = {
        var v = UTF8Validator()
        _ = [UInt8(0xFF)].withUnsafeBytes { v.validate($0) }
        return v
    }()

    // MARK: Short sequences at every offset

    /// Every non-ASCII byte, every lead byte followed by each boundary byte, 3- and 4-byte sequences of
    /// the leads with special second-byte ranges (E0, ED, F0, F4) and their neighbours, inserted at every offset 0..<70 of a 70-byte ASCII text and of
    /// a 70-byte multibyte text: every kind of error at every position of a 16-, 32- and 64-byte block, and
    /// across block boundaries.
    @Test func shortSequencesAtEveryOffsetAgreeWithSwift() {
        let boundary: [UInt8] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xF4, 0xFF]
        var sequences: [[UInt8]] = ([0x00, 0x41, 0x7F] + Array(0x80...0xFF)).map { [UInt8($0)] }
        for a in 0xC0...0xFF { for b in boundary { sequences.append([UInt8(a), b]) } }
        for a in [0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF4, 0xF5] {
            for b in boundary { for c in boundary { sequences.append([UInt8(a), b, c]) } }
        }
        for a: UInt8 in [0xF0, 0xF1, 0xF4, 0xF5, 0xF7, 0xF8] {
            for b in boundary {
                for c: UInt8 in [0x41, 0x80, 0xBF, 0xC2] { for d: UInt8 in [0x41, 0x80, 0xBF, 0xE0] { sequences.append([a, b, c, d]) } }
            }
        }
        let ascii = Array(String(repeating: "abcdefghij", count: 7).utf8)
        let multibyte = Array("aé€𝄞bκόσμε你好z🎉ß€€€𝄞ab€çd€xyz𝄞é€".utf8)
        precondition(ascii.count == 70 && multibyte.count == 70 && String(validating: multibyte, as: UTF8.self) != nil)

        var failures: [String] = []
        var invalid = 0
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 74, alignment: 1)
        defer { buffer.deallocate() }
        for sequence in sequences {
            // Valid ASCII around a sequence does not change whether it is valid.
            let validAmidASCII = sequence.withUnsafeBytes { Self.reference($0) }
            for (text, name) in [(ascii, "ASCII"), (multibyte, "multibyte")] {
                text.withUnsafeBytes { text in
                    for offset in 0..<70 {
                        // text[..<offset] + sequence + text[offset...]
                        let count = 70 + sequence.count
                        buffer.baseAddress!.copyMemory(from: text.baseAddress!, byteCount: offset)
                        sequence.withUnsafeBytes { (buffer.baseAddress! + offset).copyMemory(from: $0.baseAddress!, byteCount: $0.count) }
                        (buffer.baseAddress! + offset + sequence.count).copyMemory(from: text.baseAddress! + offset, byteCount: 70 - offset)
                        let raw = UnsafeRawBufferPointer(rebasing: buffer[0..<count])
                        let expected = name == "ASCII" ? validAmidASCII : Self.reference(raw)
                        if !expected { invalid += 1 }
                        Self.check(raw, expected: expected, &failures, "\(sequence) in \(name) at \(offset)")
                    }
                }
            }
            if failures.count > 10 { break }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
        #expect(invalid > sequences.count * 70, "\(invalid)")
    }

    /// A sequence cut off just before a run of ASCII long enough for the SIMD code to skip whole blocks of
    /// it (checked only through the block before), at every offset of the first 140 bytes.
    @Test func cutOffSequencesBeforeASCIIRunsAgreeWithSwift() {
        let pieces: [[UInt8]] = [[0xC2], [0xE2], [0xE2, 0x82], [0xF0], [0xF0, 0x9F], [0xF0, 0x9F, 0x98],
                                 [0xC2, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80]]
        var failures: [String] = []
        for piece in pieces {
            let expected = piece.withUnsafeBytes { Self.reference($0) }
            for offset in 0..<140 {
                let bytes = Array(repeating: UInt8(ascii: "a"), count: offset) + piece
                    + Array(repeating: UInt8(ascii: "b"), count: 200 - offset)
                bytes.withUnsafeBytes { Self.check($0, expected: expected, &failures, "\(piece) at \(offset)") }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    /// Long runs: megabytes of text through every implementation, valid and with one error near the end.
    @Test func longTextAgreesWithSwift() {
        let unit = Array("Hello wörld — κόσμε — 你好 🎉 and back again. ".utf8)
        var bytes: [UInt8] = []
        while bytes.count < 1 << 20 { bytes += unit }
        var failures: [String] = []
        bytes.withUnsafeBytes { Self.check($0, expected: true, &failures, "1 MiB mixed") }
        for position in [bytes.count - 1, bytes.count - 40, bytes.count - 100] {
            var broken = bytes
            broken[position] = 0xFF
            broken.withUnsafeBytes { Self.check($0, expected: false, &failures, "0xFF at \(position)") }
        }
        #expect(failures.isEmpty, "\(failures.prefix(3).map { $0.prefix(200) })")
    }

    // MARK: Generators

    /// Random valid UTF-8 of exactly `byteCount` bytes: mostly ASCII, with 2-, 3- and 4-byte characters,
    /// including the boundary code points of each length and around the surrogates.
    private func randomText(byteCount: Int, using rng: inout SplitMix64) -> [UInt8] {
        let edges: [UInt32] = [0x7F, 0x80, 0x7FF, 0x800, 0xFFF, 0x1000, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF,
                               0x10000, 0x3FFFF, 0x40000, 0xFFFFF, 0x100000, 0x10FFFF]
        var out: [UInt8] = []
        out.reserveCapacity(byteCount + 4)
        while out.count < byteCount {
            let scalar: UInt32
            switch rng.next() % 16 {
            case 0..<8: scalar = UInt32(rng.next() % 0x80)
            case 8, 9: scalar = 0x80 + UInt32(rng.next() % 0x780)
            case 10, 11: scalar = 0x800 + UInt32(rng.next() % 0xF800)
            case 12, 13: scalar = 0x10000 + UInt32(rng.next() % 0x100000)
            default: scalar = edges[Int(rng.next() % UInt64(edges.count))]
            }
            guard let s = Unicode.Scalar(scalar) else { continue } // a surrogate
            let length = UTF8.width(s)
            if out.count + length > byteCount {
                out.append(0x41)
                continue
            }
            UTF8.encode(s) { out.append($0) }
        }
        return out
    }

    /// Replaces, inserts or deletes one byte (every eighth round: none).
    private func mutate(_ bytes: inout [UInt8], round: Int, using rng: inout SplitMix64) {
        let interesting: [UInt8] = [0x80, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xED, 0xEF, 0xF0, 0xF4, 0xF5, 0xFF, 0x41]
        func randomByte() -> UInt8 {
            rng.next() % 2 == 0 ? UInt8(truncatingIfNeeded: rng.next()) : interesting[Int(rng.next() % UInt64(interesting.count))]
        }
        switch round % 8 {
        case 0: return
        case 1, 2, 3:
            if !bytes.isEmpty { bytes[Int(rng.next() % UInt64(bytes.count))] = randomByte() }
        case 4, 5, 6:
            bytes.insert(randomByte(), at: Int(rng.next() % UInt64(bytes.count + 1)))
        default:
            if !bytes.isEmpty { bytes.remove(at: Int(rng.next() % UInt64(bytes.count))) }
        }
    }
}

/// splitmix64: a small deterministic generator, so that failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
