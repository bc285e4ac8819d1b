import NIOCore

/// A hixie-75/76 connection after its handshake, as a struct state machine: bytes in, actions out (the
/// counterpart of `RFC6455Connection` for the drafts' framing, seed 001 §4.2 and §5.3).
///
/// Reading: `0x00 … 0xFF` is a text message (UTF-8: a server fails the connection on invalid text, a client
/// replaces it with U+FFFD as §4.4 says); a frame type with the high bit set is followed by a base-128 length
/// and that many bytes, which are skipped — except hixie-76's `0xFF 0x00`, the closing handshake; any other
/// frame type below 0x80 is read up to its `0xFF` and discarded (§4.2). Every frame is bounded by
/// `maxMessageSize`, so a text frame without its `0xFF` cannot grow without end.
///
/// Writing: text only. A binary message whose bytes are valid UTF-8 goes out as text (the bytes are kept
/// exactly); other binary messages cannot be expressed on this wire and are refused (`writeMessage` returns
/// false) rather than mangled.
public struct HixieConnection: Sendable {
    public struct Configuration: Sendable, Hashable {
        /// Largest text message, and largest skipped frame, in bytes.
        public var maxMessageSize: Int

        public init(maxMessageSize: Int = 16 << 20) {
            self.maxMessageSize = maxMessageSize
        }
    }

    private enum ReadState: Sendable, Hashable {
        /// Between frames.
        case frameType
        /// Inside `0x00 …`: bytes go to `message` until `0xFF`.
        case text
        /// Inside a frame of unknown type below 0x80: bytes are dropped until `0xFF`.
        case discardedText(length: Int)
        /// Reading the base-128 length of a frame type with the high bit set.
        case length(frameType: UInt8, value: Int, digits: Int)
        /// Skipping the payload of a length-prefixed frame.
        case skipping(remaining: Int)
    }

    public let draft: HixieDraft
    public let role: WebSocketRole
    public let configuration: Configuration
    public private(set) var state: WebSocketConnectionState = .open
    public private(set) var inputFailure: CloseFrame?
    private var readState: ReadState = .frameType
    private var message = ByteBuffer()
    private var utf8 = UTF8Validator()

    public init(draft: HixieDraft, role: WebSocketRole, configuration: Configuration = .init()) {
        self.draft = draft
        self.role = role
        self.configuration = configuration
    }

    // MARK: Reading

    /// Consumes bytes from `input` until one action is ready, or until `input` is exhausted (nil). The
    /// message being assembled is kept between calls, so `input` is always fully drained by then.
    public mutating func read(from input: inout ByteBuffer, output: inout ByteBuffer) -> WebSocketWireEvent? {
        while input.readableBytes > 0 {
            guard state != .closed, inputFailure == nil else {
                input.moveReaderIndex(to: input.writerIndex)
                return nil
            }
            switch readState {
            case .frameType:
                let type = input.readInteger(as: UInt8.self)!
                if type & 0x80 == 0 {
                    readState = type == 0x00 ? .text : .discardedText(length: 0)
                } else {
                    readState = .length(frameType: type, value: 0, digits: 0)
                }
            case .text:
                if let action = readText(from: &input) { return action }
            case .discardedText(let length):
                let (consumed, ended) = Self.scanToTerminator(&input)
                guard length + consumed <= configuration.maxMessageSize else {
                    return fail(.messageTooBig, "frame longer than \(configuration.maxMessageSize) bytes without its 0xFF")
                }
                readState = ended ? .frameType : .discardedText(length: length + consumed)
            case .length(let type, let value, let digits):
                let b = input.readInteger(as: UInt8.self)!
                let length = value * 128 + Int(b & 0x7F)
                guard digits < 8, length <= configuration.maxMessageSize else {
                    return fail(.messageTooBig, "length-prefixed frame longer than \(configuration.maxMessageSize) bytes")
                }
                if b & 0x80 != 0 {
                    readState = .length(frameType: type, value: length, digits: digits + 1)
                } else if type == 0xFF, length == 0, draft == .hixie76 {
                    readState = .frameType
                    return closeReceived(output: &output)
                } else {
                    readState = length == 0 ? .frameType : .skipping(remaining: length)
                }
            case .skipping(let remaining):
                let n = min(remaining, input.readableBytes)
                input.moveReaderIndex(forwardBy: n)
                readState = n == remaining ? .frameType : .skipping(remaining: remaining - n)
            }
        }
        return nil
    }

    /// Copies text bytes up to the terminating 0xFF into `message`, validating (server) as they arrive.
    private mutating func readText(from input: inout ByteBuffer) -> WebSocketWireEvent? {
        let available = input.readableBytes
        let end = input.withUnsafeReadableBytes { $0.firstIndex(of: 0xFF) }
        let take = end ?? available
        // Judge bytes in order, whatever the reads' sizes: the text up to the limit is validated first, so bad
        // UTF-8 before the limit is a 1007 and a frame running past it a 1009, however the bytes arrived.
        let allowed = configuration.maxMessageSize - message.readableBytes
        if role == .server {
            let checked = min(take, allowed)
            let valid = input.withUnsafeReadableBytes { utf8.validate(UnsafeRawBufferPointer(rebasing: $0[0..<checked])) }
            guard valid else { return fail(.invalidFramePayloadData, "text frame is not valid UTF-8") }
        }
        guard take <= allowed else {
            return fail(.messageTooBig, "text frame longer than \(configuration.maxMessageSize) bytes")
        }
        var piece = input.readSlice(length: take)!
        message.writeBuffer(&piece)
        guard end != nil else { return nil }
        input.moveReaderIndex(forwardBy: 1) // the 0xFF
        readState = .frameType
        if role == .server {
            guard utf8.isAtCharacterBoundary else { return fail(.invalidFramePayloadData, "text frame ends inside a UTF-8 sequence") }
            utf8.reset()
        }
        var text = message
        message = ByteBuffer()
        if role == .client, !text.withUnsafeReadableBytes({ UTF8Validator.isValid($0) }) {
            // §4.4: bytes that are not valid UTF-8 are read as U+FFFD.
            let repaired = String(decoding: text.readableBytesView, as: UTF8.self)
            text = ByteBuffer(string: repaired)
        }
        return .message(.text, text)
    }

    /// Skips bytes up to and including the next 0xFF; returns how many were skipped and whether 0xFF was found.
    private static func scanToTerminator(_ input: inout ByteBuffer) -> (Int, Bool) {
        if let end = input.withUnsafeReadableBytes({ $0.firstIndex(of: 0xFF) }) {
            input.moveReaderIndex(forwardBy: end + 1)
            return (end, true)
        }
        let n = input.readableBytes
        input.moveReaderIndex(forwardBy: n)
        return (n, false)
    }

    /// hixie-76 `0xFF 0x00`: answered with our own unless we sent it first; the connection is then closed.
    private mutating func closeReceived(output: inout ByteBuffer) -> WebSocketWireEvent {
        let initiatedByPeer = state == .open
        if initiatedByPeer { output.writeBytes(Self.closeFrame) }
        state = .closed
        return .closed(CloseFrame(code: nil), initiatedByPeer: initiatedByPeer)
    }

    private mutating func fail(_ code: CloseCode, _ reason: String) -> WebSocketWireEvent {
        inputFailure = CloseFrame(code: code, reason: reason)
        message = ByteBuffer()
        return .failed(code, reason: reason)
    }

    // MARK: Writing

    static let closeFrame: [UInt8] = [0xFF, 0x00]

    /// Whether a message of this kind and content can be sent on a hixie wire (see the type's note).
    public static func canCarry(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> Bool {
        opcode == .text || payload.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
    }

    public var canSendMessages: Bool { state == .open }

    @discardableResult
    public mutating func writeMessage(_ opcode: WebSocketOpcode, payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        guard Self.canCarry(opcode, payload: payload) else { return .refused(.notRepresentable) }
        Self.writeText(payload, into: &output)
        return .written
    }

    static func writeText(_ payload: ByteBuffer, into output: inout ByteBuffer) {
        output.reserveCapacity(minimumWritableBytes: payload.readableBytes + 2)
        output.writeInteger(UInt8(0x00))
        var payload = payload
        output.writeBuffer(&payload)
        output.writeInteger(UInt8(0xFF))
    }

    /// hixie-76 sends `0xFF 0x00` and waits for the peer's; hixie-75 has no close frame (the caller drops the
    /// TCP connection). The close code and reason cannot be expressed on either wire.
    @discardableResult
    public mutating func writeClose(_ frame: CloseFrame, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        // hixie-75 sends nothing; reading goes on (a client half-closes and reads the server's last messages).
        if draft == .hixie76 { output.writeBytes(Self.closeFrame) }
        state = .closeSent
        return .written
    }

    public mutating func connectionEnded() {
        state = .closed
    }
}

extension HixieConnection: WebSocketWireEngine {
    public var wire: WebSocketWire { WebSocketWire(draft) }
    public var canPing: Bool { false }
    /// hixie-75 closes by closing TCP, so that is a clean end; on hixie-76 a TCP close without `0xFF 0x00` is not.
    public var closeAtEndOfStream: (code: UInt16, clean: Bool) {
        draft == .hixie75 ? (CloseCode.noStatusReceived.rawValue, true) : (CloseCode.abnormalClosure.rawValue, false)
    }
    public var closesByDroppingConnection: Bool { draft == .hixie75 }
    public var sharedEncodingKey: String? { "hixie" }

    public func writeUnmaskedHeader(_ opcode: WebSocketOpcode, payloadLength: Int, into output: inout ByteBuffer) -> Bool {
        false // a text frame needs its trailing 0xFF, so the payload is copied
    }

    public mutating func writePing(_ payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        .refused(state == .open ? .unsupported : .closed)
    }

    public static func encodeShared(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> ByteBuffer? {
        guard canCarry(opcode, payload: payload) else { return nil }
        var bytes = ByteBuffer()
        writeText(payload, into: &bytes)
        return bytes
    }
}
