import NIOCore

/// One connection's permessage-deflate state: a compressor for the messages it sends and a decompressor for
/// the messages it receives, each created on first use (a connection that never sends a compressed message
/// never pays for a compressor) and reset after every message when the agreement says "no context takeover".
///
/// A quiet connection's codec can `rest()`: its zlib streams (~300 KiB at the defaults) are ended and only the
/// history that context takeover refers back to is kept — the peer's window of what it sent (2^client_max_window_bits
/// at most) and the last `Tuning.restHistoryBytes` of what this side sent. The next message re-creates the stream
/// with that history as its dictionary, so the wire cannot tell: the peer's window is never contradicted, and the
/// compressor only refers back less far than it could.
///
/// A class: zlib streams must not move and must be freed. Used only from its connection's event loop.
public final class PerMessageDeflateCodec {
    public let parameters: PerMessageDeflate.Parameters
    public let tuning: PerMessageDeflate.Tuning
    private let outboundWindowBits: Int
    private let outboundNoContextTakeover: Bool
    private let inboundWindowBits: Int
    private let inboundNoContextTakeover: Bool
    private var deflater: RawDeflater?
    private var inflater: RawInflater?
    /// While resting: the history each re-created stream starts from (empty without context takeover).
    private var outboundHistory: [UInt8] = []
    private var inboundHistory: [UInt8] = []
    /// Compressed bytes of the outgoing message, reused between messages.
    private var scratch = ByteBuffer()

    /// The empty stored block every sync-flushed message ends with; stripped on sending, restored on reading.
    static let tail: [UInt8] = [0x00, 0x00, 0xFF, 0xFF]

    public init(parameters: PerMessageDeflate.Parameters, role: WebSocketRole,
                tuning: PerMessageDeflate.Tuning = PerMessageDeflate.Tuning()) {
        self.parameters = parameters
        self.tuning = tuning
        let server = role == .server
        outboundWindowBits = server ? parameters.serverMaxWindowBits : parameters.clientMaxWindowBits
        outboundNoContextTakeover = server ? parameters.serverNoContextTakeover : parameters.clientNoContextTakeover
        inboundWindowBits = server ? parameters.clientMaxWindowBits : parameters.serverMaxWindowBits
        inboundNoContextTakeover = server ? parameters.clientNoContextTakeover : parameters.serverNoContextTakeover
    }

    /// The most memory zlib may hold for this connection once both directions are in use (zlib's documented
    /// formulas: deflate 2^(w+2) + 2^(memLevel+9) plus ~6 KiB, inflate 2^w plus ~7 KiB).
    public var memoryBound: Int {
        let deflateWindow = max(outboundWindowBits, 9)
        let inflateWindow = max(inboundWindowBits, 9)
        return (1 << (deflateWindow + 2)) + (1 << (tuning.memoryLevel + 9)) + 6 * 1024 + (1 << inflateWindow) + 7 * 1024
    }

    /// Whether a message of this size is worth compressing.
    func shouldCompress(_ size: Int) -> Bool { size >= tuning.minimumMessageSize }

    /// The compressed payload of a whole message (tail stripped). The buffer is reused: read it before the
    /// next call.
    package func compress(_ payload: ByteBuffer) -> ByteBuffer {
        let deflater = self.deflater ?? makeDeflater()
        scratch.clear()
        payload.withUnsafeReadableBytes { deflater.compress($0, into: &scratch) }
        // §7.2.1: remove the 4-octet tail; Z_SYNC_FLUSH always ends with it.
        if scratch.readableBytes >= 4, scratch.getInteger(at: scratch.writerIndex - 4, as: UInt32.self) == 0x0000_FFFF {
            scratch.moveWriterIndex(to: scratch.writerIndex - 4)
        }
        // zlib writes nothing for an empty input right after a flush (it never writes two flush markers in a
        // row), but the peer appends 00 00 FF FF to whatever arrives: §7.2.3.6's single 0x00 makes that a
        // whole empty stored block.
        if scratch.readableBytes == 0 {
            scratch.writeInteger(UInt8(0))
        }
        if outboundNoContextTakeover {
            deflater.reset()
        }
        return scratch
    }

    /// Inflates one piece of a compressed message, appending at most `limit` bytes to `output`.
    func decompress(_ piece: UnsafeRawBufferPointer, into output: inout ByteBuffer, limit: Int) -> RawInflater.Outcome {
        let inflater = self.inflater ?? makeInflater()
        return inflater.inflate(piece, into: &output, limit: limit)
    }

    /// Ends a compressed message: inflates the stripped tail (§7.2.2), then resets if the peer does not keep
    /// its context. A message with no compressed bytes at all (a sender that skipped §7.2.3.6's 0x00) is
    /// empty and leaves the stream as it was: inflating the bare tail would leave it inside a stored block.
    func finishMessage(compressedBytes: Int, into output: inout ByteBuffer, limit: Int) -> RawInflater.Outcome {
        let outcome = compressedBytes == 0 ? .ok : Self.tail.withUnsafeBytes { decompress($0, into: &output, limit: limit) }
        if inboundNoContextTakeover { inflater?.reset() }
        return outcome
    }

    // MARK: Resting

    /// Whether zlib streams are held (a resting or unused codec holds none).
    public var holdsStreams: Bool { deflater != nil || inflater != nil }

    /// Ends the zlib streams, keeping the history the next message needs (see the type's comment). Only between
    /// messages: the caller makes sure no compressed message is half received.
    func rest() {
        if let deflater {
            // A Huffman-only compressor (window 8) never refers back; no history to keep.
            let keep = outboundNoContextTakeover || outboundWindowBits <= 8 ? 0 : min(tuning.restHistoryBytes, 1 << outboundWindowBits)
            outboundHistory = keep > 0 ? deflater.history(maxBytes: keep) : []
            self.deflater = nil
        }
        if let inflater {
            // The peer may refer back a whole window: all of it is kept.
            inboundHistory = inboundNoContextTakeover ? [] : inflater.history(maxBytes: 1 << max(inboundWindowBits, 9))
            self.inflater = nil
        }
        scratch = ByteBuffer()
    }

    /// Bytes held while resting (the kept histories).
    public var restingBytes: Int { outboundHistory.count + inboundHistory.count }

    private func makeDeflater() -> RawDeflater {
        let made = RawDeflater(windowBits: outboundWindowBits, memoryLevel: tuning.memoryLevel, level: tuning.compressionLevel,
                               history: outboundHistory)
        outboundHistory = []
        deflater = made
        return made
    }

    private func makeInflater() -> RawInflater {
        let made = RawInflater(windowBits: inboundWindowBits, history: inboundHistory)
        inboundHistory = []
        inflater = made
        return made
    }

    /// Releases the compressed-output buffer when a large message left it big.
    func trimScratch(above capacity: Int) {
        if scratch.capacity > capacity { scratch = ByteBuffer() }
    }
}
