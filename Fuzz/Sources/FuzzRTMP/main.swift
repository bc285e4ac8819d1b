// libFuzzer target: the RTMP chunk stream reader, the AMF0/AMF3 decoder and the WSR server session.
//
// Input layout (see README.md):
//   byte 0    control: bits 0-5 seed of the read sizes (0: one byte per read), bit 6 small limits,
//             bit 7 feed the bytes to a WSR server session (after a handshake of our making) instead
//   bytes 1…  chunk stream bytes (or an AMF body, also tried on its own)
//
// Invariants checked (any violation aborts):
//   * no crash, no ASan report;
//   * reads split as the seed says give the same messages (and failure) as one read;
//   * every message is within the length limit; a message written back at chunk size 128 reads back equal;
//   * AMF values that decode re-encode to bytes that decode to the same values;
//   * a WSR session never opens without a pending tcUrl and never sends after failing; once open, its
//     connection reads the rest without crashing and keeps a failure.
import FuzzSupport
import NIOCore
import RTMPEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard count > 0, let start else { return 0 }
    let data = UnsafeRawBufferPointer(start: start, count: count)
    let control = data[0]
    let seed = UInt64(control & 0x3F)
    let limits = control & 0x40 == 0
        ? RTMPChunkReader.Limits(maxChunkSize: 1 << 16, maxMessageLength: 1 << 16, maxChunkStreams: 16)
        : RTMPChunkReader.Limits(maxChunkSize: 256, maxMessageLength: 512, maxChunkStreams: 3)
    let bytes = Array(data[1...])
    if control & 0x80 != 0 {
        checkSession(bytes, seed: seed)
    } else {
        checkChunks(bytes, seed: seed, limits: limits)
    }
    checkAMF(bytes)
    return 0
}

func readAll(_ pieces: [ArraySlice<UInt8>], limits: RTMPChunkReader.Limits) -> ([RTMPMessage], RTMPChunkReader.Failure?) {
    var reader = RTMPChunkReader(limits: limits)
    return readAll(pieces) { reader.next(&$0) }
}

func checkChunks(_ bytes: [UInt8], seed: UInt64, limits: RTMPChunkReader.Limits) {
    let (once, onceFailure) = readAll([bytes[...]], limits: limits)
    let (split, splitFailure) = readAll(readSizes(bytes, seed: seed), limits: limits)
    invariant(once == split && onceFailure == splitFailure, "split reads differ: \(split.count) vs \(once.count) messages")
    for m in once {
        invariant(m.payload.readableBytes <= limits.maxMessageLength, "message over the limit")
        var wire = ByteBuffer()
        RTMPChunkWriter(chunkSize: 128).write(m, into: &wire)
        var generous = limits
        generous.maxChunkStreams = 1 << 20
        let (again, failure) = readAll([Array(wire.readableBytesView)[...]], limits: generous)
        invariant(failure == nil && again == [m], "a message does not survive writing and reading back")
    }
}

func checkAMF(_ bytes: [UInt8]) {
    var decoder = AMFDecoder(ByteBuffer(bytes: bytes))
    var values: [AMFValue] = []
    while !decoder.isAtEnd, let v = try? decoder.decode() { values.append(v) }
    guard !values.isEmpty, !values.contains(where: containsAMF3StringReference) else { return }
    var encoded = ByteBuffer()
    AMFEncoder.encode(values, into: &encoded)
    var again = AMFDecoder(encoded)
    let decoded = try? again.decodeAll()
    invariant(decoded == values, "AMF values do not survive re-encoding")
}

/// AMF3 integers outside 29 bits and reused strings do not round-trip by value; skip inputs that have them.
func containsAMF3StringReference(_ v: AMFValue) -> Bool {
    switch v {
    case .object(let p), .ecmaArray(let p): return p.contains { containsAMF3StringReference($0.1) }
    case .strictArray(let items): return items.contains(where: containsAMF3StringReference)
    case .amf3String: return true
    case .number(let d), .date(let d): return d.isNaN
    default: return false
    }
}

func checkSession(_ bytes: [UInt8], seed: UInt64) {
    var session = WSRServerSession(limits: .init(maxChunkSize: 1 << 16, maxMessageLength: 1 << 16, maxChunkStreams: 16))
    var failed = false
    var connection: WSRConnection?
    let handshake: [UInt8] = [0x03] + [UInt8](repeating: 0, count: 3072)
    for piece in [handshake[...]] + readSizes(bytes, seed: seed) {
        var input = ByteBuffer(bytes: piece)
        if connection != nil {
            // The open phase: messages, commands answered into `replies`, a failure that stays.
            var replies = ByteBuffer()
            while let event = connection!.next(&input, replies: &replies) {
                if case .failed = event { invariant(connection!.failure != nil, "a failure not kept") }
            }
            continue
        }
        for action in session.read(&input, claim: { $0 == "rtmp://h:80/p/x" }) {
            switch action {
            case .send: invariant(!failed, "sent after failing")
            case .fail: failed = true
            case .declined: invariant(!failed, "went on after failing")
            case .open(let url):
                invariant(url == "rtmp://h:80/p/x", "opened for a tcUrl that is not pending")
                var (opened, leftover) = session.makeConnection()
                var replies = ByteBuffer()
                while opened.next(&leftover, replies: &replies) != nil {}
                connection = opened
            }
        }
    }
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
