import NIOCore

/// The RTMP chunk stream demultiplexer (RFC-less, Adobe's RTMP spec §5.3): basic headers of 1, 2 and 3 bytes,
/// message headers of types 0–3 with their carried-over fields, extended timestamps, interleaved chunk streams,
/// headers split across reads. It applies Set Chunk Size and Abort itself; every message (those two included) is
/// handed out. Bounded: the chunk size it accepts, a message's length, how many chunk streams may be open, and
/// the bytes of unfinished messages held across all of them (without that bound, 60 chunk streams each announcing
/// a 15 MiB message held 900 MiB for one connection).
public struct RTMPChunkReader: Sendable {
    public struct Limits: Sendable, Hashable {
        public var maxChunkSize: Int
        public var maxMessageLength: Int
        public var maxChunkStreams: Int
        public var maxBufferedBytes: Int
        public init(maxChunkSize: Int = 1 << 20, maxMessageLength: Int = 16 << 20, maxChunkStreams: Int = 64,
                    maxBufferedBytes: Int? = nil) {
            self.maxChunkSize = maxChunkSize
            self.maxMessageLength = maxMessageLength
            self.maxChunkStreams = maxChunkStreams
            self.maxBufferedBytes = maxBufferedBytes ?? 2 * maxMessageLength
        }
    }

    public enum Failure: Error, Sendable, Equatable, CustomStringConvertible {
        case chunkSize(Int)
        case messageTooLong(Int)
        case tooManyChunkStreams
        case tooMuchBuffered(Int)
        case continuationWithoutHeader(UInt32)
        /// A type 0, 1 or 2 header (which begins a message) on a chunk stream whose message is not complete.
        case interruptedMessage(UInt32)
        case malformedControl

        public var description: String {
            switch self {
            case .chunkSize(let n): return "chunk size \(n) refused"
            case .messageTooLong(let n): return "message of \(n) bytes refused"
            case .tooManyChunkStreams: return "too many chunk streams"
            case .tooMuchBuffered(let n): return "\(n) bytes of unfinished messages refused"
            case .continuationWithoutHeader(let csid): return "chunk stream \(csid) continues a message it never began"
            case .interruptedMessage(let csid): return "chunk stream \(csid) begins a message before finishing the last"
            case .malformedControl: return "malformed protocol control message"
            }
        }
    }

    /// What a chunk stream carries over from its previous chunk.
    struct StreamState: Sendable {
        var timestamp: UInt32 = 0
        var delta: UInt32 = 0
        var length: Int = 0
        var typeID: UInt8 = 0
        var messageStreamID: UInt32 = 0
        var extended = false
        var started = false
    }

    /// Settable: a session raises them when its setup phase (small commands only) is over.
    public var limits: Limits
    public private(set) var chunkSize = 128
    /// Every byte handed to `next` (what an Acknowledgement counts).
    public private(set) var bytesReceived: UInt64 = 0
    private var streams: [UInt32: StreamState] = [:]
    /// Messages being assembled, by chunk stream — apart from `streams` so appending a chunk never copies a
    /// partly assembled message (a copy per chunk made a 1 MiB message at chunk size 128 cost gigabytes of copying).
    private var payloads: [UInt32: ByteBuffer] = [:]
    private var pending = ByteBuffer()
    /// The bytes in `payloads`.
    private var buffered = 0
    private var failed: Failure?

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// The next complete message from the bytes so far (appending `input`); nil when more bytes are needed.
    public mutating func next(_ input: inout ByteBuffer) -> Result<RTMPMessage, Failure>? {
        bytesReceived += UInt64(input.readableBytes)
        if input.readableBytes > 0 { pending.writeBuffer(&input) }
        if let failed { return .failure(failed) }
        while true {
            let start = pending.readerIndex
            guard let outcome = readChunk() else {
                pending.moveReaderIndex(to: start) // an incomplete chunk: wait for the rest of it
                return nil
            }
            switch outcome {
            case .failure(let f):
                failed = f
                return .failure(f)
            case .success(nil):
                continue // a chunk that did not complete its message
            case .success(let message?):
                if message.typeID == RTMPMessage.setChunkSize || message.typeID == RTMPMessage.abort {
                    if let f = applyControl(message) {
                        failed = f
                        return .failure(f)
                    }
                }
                return .success(message)
            }
        }
    }

    private mutating func applyControl(_ message: RTMPMessage) -> Failure? {
        guard let value = message.payload.getInteger(at: message.payload.readerIndex, as: UInt32.self) else { return .malformedControl }
        if message.typeID == RTMPMessage.setChunkSize {
            // The top bit must be 0 (Adobe's spec §5.4.1): a size with it set is refused, not masked.
            let size = Int(value)
            guard size >= 1, size <= limits.maxChunkSize else { return .chunkSize(size) }
            chunkSize = size
        } else {
            buffered -= payloads.removeValue(forKey: value)?.readableBytes ?? 0
        }
        return nil
    }

    /// One chunk; nil when it is not all here yet (nothing is consumed then).
    private mutating func readChunk() -> Result<RTMPMessage?, Failure>? {
        guard let b0 = pending.readInteger(as: UInt8.self) else { return nil }
        let format = b0 >> 6
        var csid = UInt32(b0 & 0x3F)
        if csid == 0 {
            guard let b = pending.readInteger(as: UInt8.self) else { return nil }
            csid = 64 + UInt32(b)
        } else if csid == 1 {
            guard let lo = pending.readInteger(as: UInt8.self), let hi = pending.readInteger(as: UInt8.self) else { return nil }
            csid = 64 + UInt32(lo) + UInt32(hi) * 256
        }
        var state = streams[csid] ?? StreamState()
        if streams[csid] == nil, streams.count >= limits.maxChunkStreams { return .failure(.tooManyChunkStreams) }
        let assembled = payloads[csid]?.readableBytes ?? 0
        if format <= 2, assembled > 0 { return .failure(.interruptedMessage(csid)) }
        let headerLength = [11, 7, 3, 0][Int(format)]
        guard pending.readableBytes >= headerLength else { return nil }
        var timeField: UInt32 = 0
        if format <= 2 { timeField = Self.read24(&pending) }
        if format <= 1 {
            state.length = Int(Self.read24(&pending))
            state.typeID = pending.readInteger(as: UInt8.self)!
        }
        if format == 0 { state.messageStreamID = pending.readInteger(endianness: .little, as: UInt32.self)! }
        if format <= 2 { state.extended = timeField == 0xFFFFFF }
        // A type-3 chunk repeats the extended timestamp field when its stream's last header had one.
        if state.extended {
            guard let ext = pending.readInteger(as: UInt32.self) else { return nil }
            timeField = ext
        }
        guard format == 0 || state.started else { return .failure(.continuationWithoutHeader(csid)) }
        guard state.length <= limits.maxMessageLength else { return .failure(.messageTooLong(state.length)) }
        let beginning = assembled == 0
        if beginning {
            switch format {
            case 0: state.timestamp = timeField; state.delta = 0
            case 1, 2: state.delta = timeField; state.timestamp &+= timeField
            default: if state.started { state.timestamp &+= state.delta } // type 3 starting a new message
            }
        }
        let want = min(chunkSize, state.length - assembled)
        guard pending.readableBytes >= want else { return nil }
        var piece = pending.readSlice(length: want)!
        state.started = true
        streams[csid] = state
        if assembled + want < state.length {
            guard buffered + want <= limits.maxBufferedBytes else { return .failure(.tooMuchBuffered(buffered + want)) }
            buffered += want
            payloads[csid, default: ByteBuffer()].writeBuffer(&piece)
            return .success(nil)
        }
        buffered -= assembled
        var payload = payloads.removeValue(forKey: csid) ?? ByteBuffer()
        payload.writeBuffer(&piece)
        return .success(RTMPMessage(chunkStreamID: csid, typeID: state.typeID, messageStreamID: state.messageStreamID,
                                    timestamp: state.timestamp, payload: payload))
    }

    static func read24(_ b: inout ByteBuffer) -> UInt32 {
        let bytes = b.readBytes(length: 3)!
        return UInt32(bytes[0]) << 16 | UInt32(bytes[1]) << 8 | UInt32(bytes[2])
    }
}
