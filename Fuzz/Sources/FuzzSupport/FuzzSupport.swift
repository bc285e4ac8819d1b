import CFuzzerDriver
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Fails the fuzz run when an invariant does not hold: prints why, then aborts, which libFuzzer reports as a
/// crash and saves the input under `-artifact_prefix`.
@inline(never)
public func invariant(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String,
                      file: StaticString = #fileID, line: UInt = #line) {
    if !condition() {
        let text = "INVARIANT VIOLATED at \(file):\(line): \(message())\n"
        _ = text.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress!, $0.count - 1) }
        abort()
    }
}

/// Hex dump of at most `limit` bytes, for invariant messages.
public func hex<C: Collection>(_ bytes: C, limit: Int = 64) -> String where C.Element == UInt8 {
    let digits = Array("0123456789abcdef")
    var out = ""
    for b in bytes.prefix(limit) {
        out.append(digits[Int(b >> 4)])
        out.append(digits[Int(b & 0xF)])
    }
    if bytes.count > limit { out += "…(\(bytes.count) bytes)" }
    return out
}

/// A tiny deterministic generator (splitmix64) for deriving split points from fuzzer-chosen seed bytes.
public struct SplitMix: Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    /// A value in 1...max(1, bound).
    public mutating func step(upTo bound: Int) -> Int {
        1 + Int(next() % UInt64(max(1, bound)))
    }
}

/// Hands control to libFuzzer with `testOneInput` as the target; returns libFuzzer's exit status.
/// Call it from a fuzz target's top-level code.
/// `bytes` cut into reads: one byte each for seed 0, else random sizes up to `seed * 8` drawn from the seed.
public func readSizes(_ bytes: [UInt8], seed: UInt64) -> [ArraySlice<UInt8>] {
    var rng = SplitMix(seed: seed)
    var out: [ArraySlice<UInt8>] = []
    var i = 0
    while i < bytes.count {
        let n = seed == 0 ? 1 : rng.step(upTo: Int(seed) * 8)
        out.append(bytes[i..<min(bytes.count, i + n)])
        i += n
    }
    return out
}

public func runFuzzer(_ testOneInput: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> Never {
    var argc = CommandLine.argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
    let status = LLVMFuzzerRunDriver(&argc, &argv, testOneInput)
    exit(status)
}

/// Feeds `pieces` in turn to a streaming reader (`next` is its `next(&input)`) and collects what it yields, up to
/// its first failure: what a split-read invariant compares between one read and many.
public func readAll<Item, Failure: Error>(_ pieces: [ArraySlice<UInt8>],
                                          next: (inout ByteBuffer) -> Result<Item, Failure>?) -> ([Item], Failure?) {
    var items: [Item] = []
    for piece in pieces {
        var input = ByteBuffer(bytes: piece)
        while let result = next(&input) {
            switch result {
            case .success(let item): items.append(item)
            case .failure(let failure): return (items, failure)
            }
        }
    }
    return (items, nil)
}
