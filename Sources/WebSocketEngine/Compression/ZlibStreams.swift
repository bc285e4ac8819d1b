import CZlib
import NIOCore

/// A raw DEFLATE compressor (RFC 1951, no zlib header) that keeps its history between messages unless reset.
///
/// A class because a `z_stream` holds pointers into itself and must not move; one per connection, used only
/// on that connection's event loop.
final class RawDeflater {
    private let stream: UnsafeMutablePointer<z_stream>

    /// - Parameters:
    ///   - windowBits: 8…15. zlib cannot make raw streams with a 256-byte window, so 8 is served by a 512-byte
    ///     window with Huffman-only coding: without back-references the peer's 256-byte window always suffices.
    ///   - memoryLevel: 1…9; zlib's internal state is 2^(memoryLevel+9) bytes.
    init(windowBits: Int, memoryLevel: Int, level: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let huffmanOnly = windowBits <= 8
        let rc = CZlib_deflateInitRaw(stream, Int32(level), Int32(max(windowBits, 9)), Int32(memoryLevel),
                                      huffmanOnly ? Z_HUFFMAN_ONLY : Z_DEFAULT_STRATEGY)
        precondition(rc == Z_OK, "deflateInit2 failed (\(rc)): invalid parameters or out of memory")
    }

    /// A compressor that goes on from `history`, the last bytes an earlier one compressed: its next messages may
    /// refer back into them, as the peer's decompressor — which kept its window — expects of context takeover.
    convenience init(windowBits: Int, memoryLevel: Int, level: Int, history: [UInt8]) {
        self.init(windowBits: windowBits, memoryLevel: memoryLevel, level: level)
        guard !history.isEmpty else { return }
        let rc = history.withUnsafeBufferPointer { deflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
        precondition(rc == Z_OK, "deflateSetDictionary failed (\(rc))")
    }

    /// The last `maxBytes` (or fewer) bytes of what was compressed since the last reset: the history that
    /// `init(…history:)` restores.
    func history(maxBytes: Int) -> [UInt8] {
        Self.window(maxBytes: maxBytes) { deflateGetDictionary(stream, $0, $1) }
    }

    /// Reads a stream's window through zlib's get-dictionary call (which writes up to 32 KiB) and keeps its tail.
    static func window(maxBytes: Int, _ read: (UnsafeMutablePointer<Bytef>, UnsafeMutablePointer<uInt>) -> Int32) -> [UInt8] {
        var window = [UInt8](repeating: 0, count: 1 << 15)
        var length: uInt = 0
        let rc = window.withUnsafeMutableBufferPointer { read($0.baseAddress!, &length) }
        guard rc == Z_OK else { return [] }
        let kept = min(Int(length), maxBytes)
        return Array(window[(Int(length) - kept)..<Int(length)])
    }

    deinit {
        deflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Appends the compressed form of `input` to `output`, ending on a byte boundary (Z_SYNC_FLUSH), so the
    /// output always ends with the empty stored block `00 00 FF FF`, which permessage-deflate strips.
    func compress(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer) {
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        // Incompressible data grows by ~5 bytes per 16 KiB stored block; reserve for that in one go.
        var chunk = input.count + input.count >> 10 + 64
        while true {
            var full = false
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: chunk) { dst in
                stream.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(dst.count)
                _ = deflate(stream, Z_SYNC_FLUSH)
                full = stream.pointee.avail_out == 0
                return dst.count - Int(stream.pointee.avail_out)
            }
            // With Z_SYNC_FLUSH, spare room left in the output means the flush is complete.
            if !full { break }
            chunk = 4096
        }
        stream.pointee.next_in = nil
        stream.pointee.avail_in = 0
    }

    /// Forgets the history (no context takeover).
    func reset() {
        deflateReset(stream)
    }
}

/// A raw DEFLATE decompressor with a cap on how much it may produce, so a small input cannot inflate into
/// unbounded memory (a decompression bomb).
final class RawInflater {
    enum Outcome: Equatable {
        case ok
        /// Inflating would exceed the limit; what was produced up to it (and one byte more) is in the output.
        case limitExceeded
        case corrupt(String)
    }

    private let stream: UnsafeMutablePointer<z_stream>

    /// - Parameter windowBits: the window the peer promised (8…15). 8 is read with a 512-byte window:
    ///   older zlib versions wrote 512-byte distances while claiming 256, and reading with more is always safe.
    init(windowBits: Int) {
        stream = .allocate(capacity: 1)
        stream.initialize(to: z_stream())
        let rc = CZlib_inflateInitRaw(stream, Int32(max(windowBits, 9)))
        precondition(rc == Z_OK, "inflateInit2 failed (\(rc)): out of memory")
    }

    /// A decompressor that goes on from `history`, the last bytes an earlier one produced: the window the peer's
    /// compressor may still refer back into (raw inflate takes a dictionary at any time).
    convenience init(windowBits: Int, history: [UInt8]) {
        self.init(windowBits: windowBits)
        guard !history.isEmpty else { return }
        let rc = history.withUnsafeBufferPointer { inflateSetDictionary(stream, $0.baseAddress, uInt($0.count)) }
        precondition(rc == Z_OK, "inflateSetDictionary failed (\(rc))")
    }

    /// The last `maxBytes` (or fewer) bytes this decompressor produced since its last reset.
    func history(maxBytes: Int) -> [UInt8] {
        RawDeflater.window(maxBytes: maxBytes) { inflateGetDictionary(stream, $0, $1) }
    }

    deinit {
        inflateEnd(stream)
        stream.deinitialize(count: 1)
        stream.deallocate()
    }

    /// Inflates all of `input`, appending to `output` at most `limit` bytes.
    func inflate(_ input: UnsafeRawBufferPointer, into output: inout ByteBuffer, limit: Int) -> Outcome {
        guard input.count > 0 else { return .ok }
        stream.pointee.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: Bytef.self))
        stream.pointee.avail_in = uInt(input.count)
        defer {
            stream.pointee.next_in = nil
            stream.pointee.avail_in = 0
        }
        var produced = 0
        while true {
            // One byte past the limit tells "exactly at the limit" from "over it".
            let room = limit - produced + 1
            let chunk = min(room, max(input.count * 4, 16 << 10))
            var rc: Int32 = Z_OK
            var full = false
            output.writeWithUnsafeMutableBytes(minimumWritableBytes: chunk) { dst in
                let offered = min(dst.count, room)
                stream.pointee.next_out = dst.baseAddress!.assumingMemoryBound(to: Bytef.self)
                stream.pointee.avail_out = uInt(offered)
                rc = CZlib.inflate(stream, Z_SYNC_FLUSH)
                full = stream.pointee.avail_out == 0
                let written = offered - Int(stream.pointee.avail_out)
                produced += written
                return written
            }
            switch rc {
            case Z_OK, Z_BUF_ERROR:
                break
            case Z_STREAM_END:
                // The peer ended the stream with a final block: its history is gone; a new stream starts with
                // whatever follows (the 00 00 FF FF tail, or the next message).
                inflateReset(stream)
            case Z_NEED_DICT:
                return .corrupt("deflate stream asks for a preset dictionary")
            case Z_MEM_ERROR:
                return .corrupt("out of memory while inflating")
            default:
                let message = stream.pointee.msg.map { String(cString: $0) } ?? "error \(rc)"
                return .corrupt("invalid deflate data: \(message)")
            }
            if produced > limit { return .limitExceeded }
            // Room left over means zlib has nothing more to give for the input it has taken.
            if !full, stream.pointee.avail_in == 0 || rc == Z_BUF_ERROR { return .ok }
        }
    }

    /// Forgets the history (the peer resets after each message: no context takeover).
    func reset() {
        inflateReset(stream)
    }
}
