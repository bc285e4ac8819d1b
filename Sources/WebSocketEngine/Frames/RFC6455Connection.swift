import NIOCore

/// The RFC 6455 connection state machine, after the opening handshake (sans-IO).
///
/// Bytes come in through `read(from:output:)`, which returns one `InboundAction` at a time for the I/O
/// layer to carry out; frames the protocol itself must send (pong, close replies, failure closes) are
/// appended to `output`, which the I/O layer writes. Applications' frames go out through
/// `writeMessage` / `writePing` / `writeClose`. It owns the buffer messages are assembled in and unmasks
/// into it word-wide while copying, validating UTF-8 as each piece arrives so that invalid text fails the
/// connection at the first bad byte, not at the end of the message.
public struct RFC6455Connection {
    /// Which end this is (who masks); the same type every wire uses.
    public typealias Role = WebSocketRole

    public struct Configuration: Sendable, Hashable {
        /// Largest payload of a single frame; larger frames fail the connection with 1009.
        public var maxFrameSize: Int
        /// Largest reassembled message; larger messages fail the connection with 1009.
        public var maxMessageSize: Int
        /// Reserved bits an extension negotiated (e.g. RSV1 for permessage-deflate). Any other set bit is 1002.
        public var allowedReservedBits: UInt8
        /// Assembly buffers above this capacity are released after each message, so a connection that once
        /// carried a large message does not keep its memory while idle.
        public var retainedBufferCapacity: Int
        /// nil: every message is assembled whole. Set: a message that outgrows this many bytes is delivered in
        /// pieces of about this size as it arrives (`.messagePiece`), so `maxMessageSize` can be far larger than
        /// what the connection holds — for a service that forwards what it reads (the MSRP relay's chunks).
        public var streamedPieceBytes: Int?

        public init(maxFrameSize: Int = 16 << 20, maxMessageSize: Int = 16 << 20,
                    allowedReservedBits: UInt8 = 0, retainedBufferCapacity: Int = 16 << 10, streamedPieceBytes: Int? = nil) {
            self.maxFrameSize = maxFrameSize
            self.maxMessageSize = maxMessageSize
            self.allowedReservedBits = allowedReservedBits
            self.retainedBufferCapacity = retainedBufferCapacity
            self.streamedPieceBytes = streamedPieceBytes
        }

        public static let `default` = Configuration()
    }

    /// What the I/O layer must do after a read (the events every wire shares).
    public typealias InboundAction = WebSocketWireEvent

    public typealias State = WebSocketConnectionState

    private enum ReadState: Sendable {
        case header
        /// A data frame whose payload is being copied into `message` as it arrives.
        case dataPayload(remaining: Int, key: MaskingKey?, phase: Int)
        /// A control frame: its payload (≤ 125 bytes) is handled once whole.
        case controlPayload(FrameHeader)
    }

    public let role: Role
    public var configuration: Configuration
    public private(set) var state: State = .open
    /// Set once the peer broke the protocol: no more input is read; the close frame with this code is due.
    public private(set) var inputFailure: CloseFrame?

    private var readState: ReadState = .header
    /// Bytes left over from a previous read: a partial header or control frame. Usually empty.
    private var carry: ByteBuffer
    /// The data message being assembled; empty when none is in progress.
    private var message: ByteBuffer
    /// The opcode (text or binary) of the message in progress, nil between messages.
    private var messageOpcode: WebSocketOpcode?
    /// Payload bytes of the message in progress already delivered as pieces (inflated bytes when compressed);
    /// 0 while the message is held whole.
    private var streamedBytes = 0
    private var utf8 = UTF8Validator()
    private var maskGenerator: MaskGenerator
    /// permessage-deflate, when the handshake agreed to it; RSV1 then marks compressed messages.
    public let compression: PerMessageDeflateCodec?
    /// Whether the message in progress is compressed (RSV1 on its first frame).
    private var messageCompressed = false
    /// Wire bytes of the compressed message in progress, bounded like an uncompressed message's length.
    private var compressedBytes = 0
    /// Unmasked compressed bytes on their way to the inflater (server side; a client's input is not masked).
    private var compressedPiece = ByteBuffer()

    public init(role: Role, configuration: Configuration = .default, compression: PerMessageDeflateCodec? = nil,
                maskSeed: UInt64? = nil) {
        self.role = role
        self.configuration = configuration
        self.compression = compression
        self.carry = ByteBuffer()
        self.message = ByteBuffer()
        self.maskGenerator = MaskGenerator(seed: maskSeed)
    }

    // MARK: Compression at rest

    /// The agreed compression's rest period, when it has one.
    public var compressionRestAfter: Duration? { compression?.tuning.restAfter }

    /// Rests the codec (`PerMessageDeflateCodec.rest()`), unless a compressed message is half received; between
    /// messages the buffers a quiet connection need not keep go too.
    public mutating func restCompression() -> Bool {
        guard let compression, !messageCompressed, compression.holdsStreams else { return false }
        compression.rest()
        if messageOpcode == nil, carry.readableBytes == 0 {
            message = ByteBuffer()
            carry = ByteBuffer()
        }
        compressedPiece = ByteBuffer()
        return true
    }

    // MARK: Reading

    /// Consumes bytes from `input` until one action is ready, or until `input` is exhausted (nil).
    ///
    /// Call it in a loop until it returns nil; unconsumed bytes of a partial frame are kept internally, so
    /// `input` is always fully drained by then. Frames the protocol answers itself go into `output`.
    public mutating func read(from input: inout ByteBuffer, output: inout ByteBuffer) -> InboundAction? {
        if state == .closed || inputFailure != nil {
            input.moveReaderIndex(forwardBy: input.readableBytes)
            return nil
        }
        if carry.readableBytes > 0 {
            // Borrow the carried bytes out of `self` so `process` can mutate both.
            var pending = ByteBuffer()
            swap(&pending, &carry)
            pending.writeBuffer(&input)
            let action = process(&pending, output: &output)
            if pending.readableBytes == 0 { pending.clear() }
            swap(&pending, &carry)
            return action
        }
        let action = process(&input, output: &output)
        if action == nil, input.readableBytes > 0 {
            carry.writeBuffer(&input)
        }
        return action
    }

    private mutating func process(_ input: inout ByteBuffer, output: inout ByteBuffer) -> InboundAction? {
        while true {
            switch readState {
            case .header:
                if messageOpcode == nil, message.writerIndex > 0 {
                    releaseMessageBuffer()
                }
                let parsed = FrameHeader.parse(input)
                switch parsed {
                case .needMoreData:
                    return nil
                case .invalid(.nonMinimalLength):
                    return fail(.protocolError, "frame length not minimally encoded", output: &output)
                case .invalid(.lengthTooLarge):
                    return fail(.protocolError, "64-bit frame length with the high bit set", output: &output)
                case .header(let header, let headerLength):
                    if let failure = validate(header) {
                        return fail(failure.0, failure.1, output: &output)
                    }
                    input.moveReaderIndex(forwardBy: headerLength)
                    if header.opcode.isControl {
                        readState = .controlPayload(header)
                    } else {
                        if header.opcode != .continuation {
                            messageOpcode = header.opcode
                            utf8.reset()
                            messageCompressed = compression != nil && header.reservedBits & FrameHeader.rsv1 != 0
                            compressedBytes = 0
                            // Reserved up front only when the payload comes in several reads (then it grows
                            // once, not by doubling); a payload in hand is sized by the copy itself.
                            if messageCompressed {
                                messageBufferGrew = true // the inflater sizes its own writes
                            } else if header.payloadLength > input.readableBytes || !header.fin {
                                reserveMessageCapacity(min(header.payloadLength, configuration.streamedPieceBytes ?? .max))
                            }
                        }
                        readState = .dataPayload(remaining: header.payloadLength, key: header.maskingKey, phase: 0)
                        pendingFin = header.fin
                        if header.payloadLength == 0, let action = finishDataFrame(output: &output) {
                            return action
                        }
                    }
                }

            case .dataPayload(let remaining, let key, let phase):
                let available = min(remaining, input.readableBytes)
                if available == 0 { return nil }
                if messageCompressed {
                    let start = message.writerIndex
                    let inflateFailure = inflatePiece(from: &input, count: available, key: key, phase: phase)
                    // Text before an inflate failure is judged first, so the verdict does not depend on where
                    // the reads split the compressed bytes.
                    if messageOpcode == .text, !validateText(from: start) {
                        return fail(.invalidFramePayloadData, "invalid UTF-8 in text message", output: &output)
                    }
                    if let inflateFailure {
                        return fail(inflateFailure.0, inflateFailure.1, output: &output)
                    }
                } else if !copyPiece(from: &input, count: available, key: key, phase: phase,
                                     validatingText: messageOpcode == .text) {
                    return fail(.invalidFramePayloadData, "invalid UTF-8 in text message", output: &output)
                }
                let left = remaining - available
                if left > 0 {
                    readState = .dataPayload(remaining: left, key: key, phase: (phase + available) & 3)
                    return takeDuePiece()
                }
                if let action = finishDataFrame(output: &output) { return action }
                if let piece = takeDuePiece() { return piece }

            case .controlPayload(let header):
                guard input.readableBytes >= header.payloadLength else { return nil }
                var payload = input.readSlice(length: header.payloadLength)!
                if let key = header.maskingKey, payload.readableBytes > 0 {
                    // Control payloads are ≤ 125 bytes: unmask into a fresh small buffer, never the input,
                    // which the transport may share.
                    var unmasked = ByteBuffer()
                    unmasked.writeBuffer(&payload)
                    unmasked.withUnsafeMutableReadableBytes { _ = Masking.apply(key: key, to: $0) }
                    payload = unmasked
                }
                readState = .header
                if let action = handleControl(header.opcode, payload, output: &output) { return action }
            }
        }
    }

    /// Whether the last header read had FIN set; kept outside `ReadState` so payload steps stay small.
    private var pendingFin = false

    /// Copies `count` payload bytes from `input` to the message, unmasking them on the way, and validates them
    /// as UTF-8 when `validatingText` while they are at hand (false: not UTF-8). One pass over each buffer's
    /// storage: every ByteBuffer storage access inlined here costs a runtime exclusivity check, per frame.
    private mutating func copyPiece(from input: inout ByteBuffer, count: Int, key: MaskingKey?, phase: Int,
                                    validatingText: Bool) -> Bool {
        var validator = utf8
        var valid = true
        message.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { dst in
            input.withUnsafeReadableBytes { src in
                if let key {
                    _ = Masking.apply(key: key, phase: phase, from: src.baseAddress!, to: dst.baseAddress!, count: count)
                } else {
                    dst.baseAddress!.copyMemory(from: src.baseAddress!, byteCount: count)
                }
            }
            if validatingText { valid = validator.validate(UnsafeRawPointer(dst.baseAddress!), count: count) }
            return count
        }
        utf8 = validator
        input.moveReaderIndex(forwardBy: count)
        return valid
    }

    /// Grows the message buffer for a payload that arrives in pieces; remembers a growth past what is kept
    /// between messages, so `releaseMessageBuffer` need not ask the storage for its capacity every frame.
    private mutating func reserveMessageCapacity(_ payloadLength: Int) {
        message.reserveCapacity(minimumWritableBytes: payloadLength)
        if message.writerIndex + payloadLength > configuration.retainedBufferCapacity { messageBufferGrew = true }
    }

    /// Inflates `count` compressed payload bytes from `input` into the message; the close code and reason
    /// when the data is not valid DEFLATE or inflates past `maxMessageSize` (a decompression bomb).
    private mutating func inflatePiece(from input: inout ByteBuffer, count: Int, key: MaskingKey?, phase: Int) -> (CloseCode, String)? {
        guard let codec = compression else { return (.internalServerError, "compressed message without a codec") }
        let limit = configuration.maxMessageSize - streamedBytes - message.readableBytes
        let outcome: RawInflater.Outcome
        if let key {
            compressedPiece.clear()
            compressedPiece.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { dst in
                input.withUnsafeReadableBytes { src in
                    _ = Masking.apply(key: key, phase: phase, from: src.baseAddress!, to: dst.baseAddress!, count: count)
                }
                return count
            }
            outcome = compressedPiece.withUnsafeReadableBytes { codec.decompress($0, into: &message, limit: limit) }
            if compressedPiece.capacity > configuration.retainedBufferCapacity { compressedPiece = ByteBuffer() }
        } else {
            outcome = input.withUnsafeReadableBytes {
                codec.decompress(UnsafeRawBufferPointer(rebasing: $0.prefix(count)), into: &message, limit: limit)
            }
        }
        input.moveReaderIndex(forwardBy: count)
        compressedBytes += count
        return Self.failure(of: outcome, limit: configuration.maxMessageSize)
    }

    private static func failure(of outcome: RawInflater.Outcome, limit: Int) -> (CloseCode, String)? {
        switch outcome {
        case .ok: return nil
        case .limitExceeded: return (.messageTooBig, "compressed message inflates past the limit of \(limit) bytes")
        case .corrupt(let why): return (.invalidFramePayloadData, why)
        }
    }

    /// Validates the text appended to the message since `start`.
    private mutating func validateText(from start: Int) -> Bool {
        message.withUnsafeReadableBytes { all in
            utf8.validate(UnsafeRawBufferPointer(rebasing: all[(start - message.readerIndex)...]))
        }
    }

    private mutating func finishDataFrame(output: inout ByteBuffer) -> InboundAction? {
        readState = .header
        guard pendingFin, let opcode = messageOpcode else { return nil }
        if messageCompressed, let codec = compression {
            messageCompressed = false
            let start = message.writerIndex
            let outcome = codec.finishMessage(compressedBytes: compressedBytes, into: &message,
                                              limit: configuration.maxMessageSize - streamedBytes - message.readableBytes)
            if opcode == .text, !validateText(from: start) {
                return fail(.invalidFramePayloadData, "invalid UTF-8 in text message", output: &output)
            }
            if let failure = Self.failure(of: outcome, limit: configuration.maxMessageSize) {
                return fail(failure.0, failure.1, output: &output)
            }
        }
        if opcode == .text, !utf8.isAtCharacterBoundary {
            return fail(.invalidFramePayloadData, "text message ends inside a UTF-8 sequence", output: &output)
        }
        messageOpcode = nil
        let delivered = message
        // The slice shares storage; the buffer is cleared on the next header, and only copied if retained.
        message.moveReaderIndex(to: message.writerIndex)
        if streamedBytes > 0 {
            streamedBytes = 0
            return .messagePiece(opcode, delivered, isFirst: false, isLast: true)
        }
        return .message(opcode, delivered)
    }

    /// The message so far as a piece, when the connection streams and a piece's worth has arrived; the next
    /// piece starts in a buffer of its own, so the one handed out is never copied on write. A compressed piece is
    /// cut after each read's inflation, so it may exceed the piece size by what one read inflates to.
    private mutating func takeDuePiece() -> InboundAction? {
        guard let pieceBytes = configuration.streamedPieceBytes, message.readableBytes >= pieceBytes,
              let opcode = messageOpcode else { return nil }
        let piece = message
        let isFirst = streamedBytes == 0
        streamedBytes += piece.readableBytes
        message = ByteBuffer()
        messageBufferGrew = false
        reserveMessageCapacity(pieceBytes)
        return .messagePiece(opcode, piece, isFirst: isFirst, isLast: false)
    }

    /// Set when the message buffer may have grown past `retainedBufferCapacity` (a reservation asked for more);
    /// a message copied in whole grows it by at most its own size, which `writerIndex` shows.
    private var messageBufferGrew = false

    private mutating func releaseMessageBuffer() {
        let mayBeLarge = messageBufferGrew || message.writerIndex > configuration.retainedBufferCapacity / 2
        messageBufferGrew = false
        if mayBeLarge, message.capacity > configuration.retainedBufferCapacity {
            message = ByteBuffer()
        } else {
            message.clear()
        }
    }

    /// `limit` plus what deflate may add to incompressible data (stored blocks: 5 bytes per 64 KiB; a generous
    /// 1/256 and 1 KiB), saturating instead of overflowing.
    private static func withDeflateGrowth(_ limit: Int) -> Int {
        let (padded, overflow) = limit.addingReportingOverflow(limit >> 8 + 1024)
        return overflow ? Int.max : padded
    }

    /// Framing rules of §5.2–§5.5 that do not need the payload; returns the close code and reason on failure.
    private func validate(_ header: FrameHeader) -> (CloseCode, String)? {
        let deflateBit = compression != nil ? FrameHeader.rsv1 : 0
        if header.reservedBits & ~(configuration.allowedReservedBits | deflateBit) != 0 {
            return (.protocolError, "reserved bits set without a negotiated extension")
        }
        // RFC 7692 §6: RSV1 marks the first frame of a compressed message, nothing else.
        if header.reservedBits & deflateBit != 0, header.opcode.isControl || header.opcode == .continuation {
            return (.protocolError, "RSV1 set on a \(header.opcode.isControl ? "control" : "continuation") frame")
        }
        if header.opcode.isReserved {
            return (.protocolError, "reserved opcode \(header.opcode.rawValue)")
        }
        switch role {
        case .server where header.maskingKey == nil:
            return (.protocolError, "unmasked frame from a client")
        case .client where header.maskingKey != nil:
            return (.protocolError, "masked frame from a server")
        default:
            break
        }
        if header.opcode.isControl {
            if !header.fin { return (.protocolError, "fragmented control frame") }
            if header.payloadLength > 125 { return (.protocolError, "control frame payload over 125 bytes") }
            return nil
        }
        if header.opcode == .continuation {
            if messageOpcode == nil { return (.protocolError, "continuation frame without a message to continue") }
        } else if messageOpcode != nil {
            return (.protocolError, "new data frame while a fragmented message is in progress")
        }
        let compressed = header.opcode == .continuation ? messageCompressed : header.reservedBits & deflateBit != 0
        // A compressed frame may be a little longer than what it carries (incompressible data grows under
        // deflate): its limit on the wire is the configured one plus deflate's worst-case growth, so a message
        // within the limits is not refused for being sent compressed. What it inflates to is checked while inflating.
        let frameLimit = compressed ? Self.withDeflateGrowth(configuration.maxFrameSize) : configuration.maxFrameSize
        if header.payloadLength > frameLimit {
            return (.messageTooBig, "frame of \(header.payloadLength) bytes exceeds the limit of \(configuration.maxFrameSize)")
        }
        // A compressed message is bounded on the wire too (its inflated size is checked while inflating):
        // at the limit plus deflate's worst-case growth, so empty deflate blocks cannot stream forever.
        let assembled = header.opcode == .continuation ? (compressed ? compressedBytes : streamedBytes + message.readableBytes) : 0
        let wireLimit = compressed ? Self.withDeflateGrowth(configuration.maxMessageSize) : configuration.maxMessageSize
        // Written as a subtraction: a 63-bit length must not overflow the sum (found by FuzzFrames).
        if header.payloadLength > wireLimit - assembled {
            return (.messageTooBig, "message exceeds the limit of \(configuration.maxMessageSize) bytes")
        }
        return nil
    }

    private mutating func handleControl(_ opcode: WebSocketOpcode, _ payload: ByteBuffer, output: inout ByteBuffer) -> InboundAction? {
        switch opcode {
        case .ping:
            if state == .open {
                FrameWriter.write(opcode: .pong, payload: payload, maskingKey: nextMaskingKey(), into: &output)
            }
            return .ping(payload)
        case .pong:
            return .pong(payload)
        default: // .close — validate() admits no other control opcode
            switch CloseFrame.parse(payload) {
            case .failure(let error):
                let reason: String
                switch error {
                case .protocolError(let why): reason = why
                case .invalidReason: reason = "close reason is not UTF-8"
                }
                return fail(error.closeCode, reason, output: &output)
            case .success(let frame):
                if state == .closeSent {
                    state = .closed
                    return .closed(frame, initiatedByPeer: false)
                }
                // Echo the peer's code (1000 when it gave none) and stop.
                let reply = CloseFrame(code: frame.code ?? .normalClosure)
                writeControl(.close, reply, into: &output)
                state = .closed
                return .closed(frame, initiatedByPeer: true)
            }
        }
    }

    /// Stops reading for good. The close frame is not written here: the I/O layer writes it with
    /// `writeClose` once the application has finished with the messages delivered before the failure
    /// (a strict peer expects their replies first — Autobahn 3.2, 5.15).
    private mutating func fail(_ code: CloseCode, _ reason: String, output: inout ByteBuffer) -> InboundAction {
        inputFailure = CloseFrame(code: code, reason: reason)
        readState = .header
        return .failed(code, reason: reason)
    }

    private mutating func writeControl(_ opcode: WebSocketOpcode, _ frame: CloseFrame, into output: inout ByteBuffer) {
        var body = ByteBuffer()
        frame.encode(into: &body)
        FrameWriter.write(opcode: opcode, payload: body, maskingKey: nextMaskingKey(), into: &output)
    }

    // MARK: Writing

    @inline(__always)
    private mutating func nextMaskingKey() -> MaskingKey? {
        role == .client ? maskGenerator.next() : nil
    }

    /// Whether application data may still be sent (no close frame sent yet).
    public var canSendMessages: Bool { state == .open }

    /// Appends a complete message as one frame; writes nothing once a close was sent.
    @discardableResult
    public mutating func writeMessage(_ opcode: WebSocketOpcode, payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        if let codec = compression, codec.shouldCompress(payload.readableBytes) {
            let compressed = codec.compress(payload)
            FrameWriter.write(opcode: opcode, reservedBits: FrameHeader.rsv1, payload: compressed,
                              maskingKey: nextMaskingKey(), into: &output)
            codec.trimScratch(above: configuration.retainedBufferCapacity)
            return .written
        }
        FrameWriter.write(opcode: opcode, payload: payload, maskingKey: nextMaskingKey(), into: &output)
        return .written
    }

    /// Whether `writeMessage` would compress a payload of this size (then the payload is copied anyway, so
    /// the transport's zero-copy path for large payloads does not apply).
    public func compresses(payloadLength: Int) -> Bool {
        compression?.shouldCompress(payloadLength) ?? false
    }

    /// Appends one fragment of a message (first: `.text`/`.binary`; later: `.continuation`).
    @discardableResult
    public mutating func writeFrame(_ opcode: WebSocketOpcode, fin: Bool, payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        FrameWriter.write(opcode: opcode, fin: fin, payload: payload, maskingKey: nextMaskingKey(), into: &output)
        return .written
    }

    /// The header alone of an unmasked (server) frame, so a large payload can be written without copying.
    /// Returns false when this endpoint masks (a client must copy to mask) or a close was sent.
    public func writeUnmaskedHeader(_ opcode: WebSocketOpcode, payloadLength: Int, into output: inout ByteBuffer) -> Bool {
        guard state == .open, role == .server, !compresses(payloadLength: payloadLength) else { return false }
        FrameHeader(opcode: opcode, payloadLength: payloadLength).write(into: &output)
        return true
    }

    @discardableResult
    public mutating func writePing(_ payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        writeControlPayload(.ping, payload, into: &output)
    }

    @discardableResult
    public mutating func writePong(_ payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        writeControlPayload(.pong, payload, into: &output)
    }

    /// A ping or pong: only while open, and only with what fits a control frame (§5.5: 125 bytes at most).
    private mutating func writeControlPayload(_ opcode: WebSocketOpcode, _ payload: ByteBuffer,
                                              into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        guard payload.readableBytes <= 125 else { return .refused(.controlPayloadTooLong) }
        FrameWriter.write(opcode: opcode, payload: payload, maskingKey: nextMaskingKey(), into: &output)
        return .written
    }

    /// Starts the close handshake; refused when a close was already sent or the connection is closed.
    @discardableResult
    public mutating func writeClose(_ frame: CloseFrame, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        writeControl(.close, frame, into: &output)
        state = .closeSent
        return .written
    }

    /// Marks the connection closed without a handshake (the TCP connection ended).
    public mutating func connectionEnded() {
        state = .closed
    }
}

/// A fast generator of masking keys, seeded from the system's entropy once per connection.
///
/// A masking key only has to be unpredictable to the script that chooses the payload (§10.3), which never
/// sees the generator's state; a syscall per frame for the system generator would cost more than the frame.
struct MaskGenerator: Sendable {
    private var state: UInt64

    init(seed: UInt64?) {
        var system = SystemRandomNumberGenerator()
        state = seed ?? system.next()
    }

    /// wyrand: one multiply per key, passes BigCrush.
    mutating func next() -> MaskingKey {
        state &+= 0xA076_1D64_78BD_642F
        let product = state.multipliedFullWidth(by: state ^ 0xE703_7ED1_A0B4_28DB)
        return MaskingKey(networkOrder: UInt32(truncatingIfNeeded: product.high ^ product.low))
    }
}
