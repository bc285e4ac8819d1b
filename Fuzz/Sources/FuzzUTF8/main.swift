// libFuzzer target: `UTF8Validator` (DFA at piece boundaries, SIMD over the complete characters between)
// and every C implementation of `wsg_utf8_valid` this CPU can run, against Swift's own decoder.
//
// Input layout (see README.md):
//   byte 0     seed of the piece sizes (0: the text in one piece)
//   bytes 1... the text
//
// Invariants checked (any violation aborts):
//   * no crash, no ASan report (the C kernels are instrumented too);
//   * `UTF8Validator.isValid`, each available C implementation and the validator fed one byte at a time all
//     agree with `String(validating:as:)`;
//   * fed in pieces (sizes 1–300 from the seed, so both the inlined DFA loop and the SIMD path run), the
//     validator is after every piece in the same state as fed one byte at a time up to there, so it fails
//     in the same piece and carries the same state into the next.
import CWebSocketSIMD
import FuzzSupport
import WebSocketEngine

let implementations = [WSG_UTF8_SCALAR, WSG_UTF8_SSSE3, WSG_UTF8_AVX2].filter { wsg_utf8_implementation_available($0) }

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard count > 0, let start else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let seed = data[0]
    let text = UnsafeRawBufferPointer(rebasing: data[1...])
    let expected = String(validating: text.bindMemory(to: UInt8.self), as: UTF8.self) != nil

    invariant(UTF8Validator.isValid(text) == expected, "isValid != \(expected): \(hex(text))")
    for implementation in implementations {
        invariant(wsg_utf8_valid_using(implementation, text.baseAddress, text.count) == expected,
                  "implementation \(implementation.rawValue) != \(expected): \(hex(text))")
    }

    // after[k]: fed bytes 0..<k one at a time.
    var after = [UTF8Validator()]
    after.reserveCapacity(text.count + 1)
    var single = UTF8Validator()
    var failedAt: Int? = nil
    for i in 0..<text.count {
        if !single.validate(UnsafeRawBufferPointer(rebasing: text[i ..< i + 1])), failedAt == nil { failedAt = i }
        after.append(single)
    }
    invariant((failedAt == nil && single.isAtCharacterBoundary) == expected,
              "byte at a time: failed at \(String(describing: failedAt)), boundary \(single.isAtCharacterBoundary), expected \(expected): \(hex(text))")

    var pieces = UTF8Validator()
    var random = SplitMix(seed: UInt64(seed) &* 0x9E37_79B9)
    var from = 0
    while from < text.count {
        let to = seed == 0 ? text.count : min(text.count, from + random.step(upTo: 300))
        let ok = pieces.validate(UnsafeRawBufferPointer(rebasing: text[from ..< to]))
        invariant(pieces == after[to] && ok == (failedAt.map { $0 >= to } ?? true),
                  "piece \(from)..<\(to): \(pieces) (\(ok)), byte at a time \(after[to]), failed at \(String(describing: failedAt)): \(hex(text))")
        if !ok { break }
        from = to
    }
    return 0
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
