// libFuzzer target: the MSRP parser (`MSRPParser`, `MSRPChunkReader`), URIs and the Digest header parser.
//
// Input layout (see README.md):
//   byte 0    control: bits 0-5 seed of the read sizes (0: one byte per read), bit 6 small limits
//   bytes 1…  a byte stream as a TCP leg would deliver it; also read as path and Digest header text
//
// Invariants checked (any violation aborts):
//   * no crash, no ASan report;
//   * reads split as the seed says give the same chunks (and failure) as one read;
//   * every chunk's head re-serialized with its body parses back to the same chunk;
//   * no chunk body exceeds the limit; a chunk split to a size limit keeps its bytes, in order, within it;
//   * a URI that parses prints to text that parses to an equal URI; `matches` is reflexive;
//   * Digest parameters never crash and a challenge we print parses back.
import FuzzSupport
import MSRPEngine
import NIOCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard count > 0, let start else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let control = data[0]
    let seed = UInt64(control & 0x3F)
    let limits = control & 0x40 == 0 ? MSRPParser.Limits() : MSRPParser.Limits(maxHeadBytes: 256, maxFields: 4, maxBodyBytes: 64)
    let bytes = Array(data[1...])
    checkChunks(bytes, seed: seed, limits: limits)
    checkText(String(decoding: bytes, as: UTF8.self))
    return 0
}

func readChunks(_ pieces: [ArraySlice<UInt8>], limits: MSRPParser.Limits) -> ([MSRPChunk], MSRPChunkReader.Failure?) {
    var reader = MSRPChunkReader(limits: limits)
    return readAll(pieces) { reader.next(&$0) }
}

func checkChunks(_ bytes: [UInt8], seed: UInt64, limits: MSRPParser.Limits) {
    let (once, onceFailure) = readChunks([bytes[...]], limits: limits)
    let (split, splitFailure) = readChunks(readSizes(bytes, seed: seed), limits: limits)
    invariant(once == split, "split reads gave \(split.count) chunks, one read \(once.count)")
    invariant(onceFailure?.reason == splitFailure?.reason, "failures differ: \(String(describing: onceFailure)) vs \(String(describing: splitFailure))")
    var generator = SplitMixGenerator(seed: 7)
    for chunk in once {
        invariant((chunk.body?.readableBytes ?? 0) <= limits.maxBodyBytes, "body over the limit")
        let (again, failure) = readChunks([Array(chunk.serialized().readableBytesView)[...]], limits: MSRPParser.Limits())
        invariant(failure == nil && again == [chunk], "a chunk does not survive re-serialization: \(hex(Array(chunk.serialized().readableBytesView)))")
        if let pieces = chunk.split(maxBytes: 300, generator: &generator), pieces.count > 1 {
            var joined = ByteBuffer()
            for piece in pieces {
                invariant(piece.serialized().readableBytes <= 300, "a re-chunked piece over the limit")
                var body = piece.body ?? ByteBuffer()
                joined.writeBuffer(&body)
            }
            invariant(joined == chunk.body, "re-chunking changed the body")
            invariant(pieces.last?.continuation == chunk.continuation && pieces.dropLast().allSatisfy { $0.continuation == .more },
                      "re-chunking changed the endings")
        }
    }
}

func checkText(_ text: String) {
    for word in text.split(whereSeparator: { $0 == " " || $0 == "\n" || $0 == "\r" }).prefix(8) {
        if let uri = try? MSRPURI(parsing: word) {
            let again = try? MSRPURI(parsing: uri.description)
            invariant(again == uri, "URI round trip: \(word) → \(uri.description)")
            invariant(uri.matches(uri), "matches is not reflexive")
        }
    }
    if let p = Digest.parameters(text), let realm = p["realm"], let nonce = p["nonce"] {
        let challenge = Digest.parameters(Digest.challenge(realm: realm.filter { $0 != "\"" && $0 != "\\" }, nonce: nonce.filter { $0 != "\"" && $0 != "\\" }))
        invariant(challenge != nil, "a printed challenge does not parse")
    }
}

struct SplitMixGenerator: RandomNumberGenerator {
    var inner: SplitMix
    init(seed: UInt64) { inner = SplitMix(seed: seed) }
    mutating func next() -> UInt64 { inner.next() }
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
