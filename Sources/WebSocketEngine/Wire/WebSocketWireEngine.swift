import NIOCore

/// The sans-IO engine of one WebSocket wire, as the transport's channel handler drives it: RFC 6455
/// (`RFC6455Connection`), a hixie draft (`HixieConnection`) or WSR (the transport's `WSRWireEngine`). The
/// handler's batching, backpressure, limits and close lifecycle are the same for every wire; what differs —
/// framing, whether there are pings, how a close is said — is behind this protocol, in the wire-neutral words
/// of `WebSocketRole`, `WebSocketConnectionState`, `WebSocketWireEvent` and `WebSocketWriteResult`.
///
/// `package`: the channel handler that drives it is the transport's own, so the protocol is this package's
/// seam between engines and transport, not API; the engines' own methods are.
///
/// Not `Sendable`: an engine lives in its connection's channel handler, on that connection's event loop, and
/// RFC 6455's may own a zlib stream (`PerMessageDeflateCodec`) that two threads must never share — the compiler
/// now says so instead of a conformance that was true only by convention. `SendableMetatype`, because code that
/// runs on the loop refers to the engine's type (`encodeShared`) from closures.
package protocol WebSocketWireEngine: SendableMetatype {
    var role: WebSocketRole { get }
    var state: WebSocketConnectionState { get }
    /// Which wire this is, for the API, logs and metrics.
    var wire: WebSocketWire { get }
    /// Set once the peer broke the protocol; the close due is `writeClose(inputFailure)`.
    var inputFailure: CloseFrame? { get }
    var canSendMessages: Bool { get }
    /// Whether the wire can ping (RFC 6455 can; the hixie drafts and WSR cannot, so keep-alive pings are off there).
    var canPing: Bool { get }
    /// How the connection ended when the TCP connection closed before any close handshake completed.
    var closeAtEndOfStream: (code: UInt16, clean: Bool) { get }
    /// Whether closing means dropping the TCP connection once pending writes are out (hixie-75 and WSR have no
    /// close frame), rather than sending a close and waiting for the peer's.
    var closesByDroppingConnection: Bool { get }

    /// Consumes bytes until one event is ready (or `input` is exhausted: nil); replies the protocol makes
    /// itself (pong, close echo) go into `output`.
    mutating func read(from input: inout ByteBuffer, output: inout ByteBuffer) -> WebSocketWireEvent?
    /// Appends a complete message, or says why it wrote nothing: a close was sent, or the wire cannot carry the
    /// message (binary that is not UTF-8 on a hixie connection).
    mutating func writeMessage(_ opcode: WebSocketOpcode, payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult
    /// The frame header alone, so a large payload can follow as its own buffer; false when the wire or role
    /// needs the payload copied (a capability, not a refusal: `writeMessage` then does the work).
    func writeUnmaskedHeader(_ opcode: WebSocketOpcode, payloadLength: Int, into output: inout ByteBuffer) -> Bool
    mutating func writePing(_ payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult
    mutating func writeClose(_ frame: CloseFrame, into output: inout ByteBuffer) -> WebSocketWriteResult
    mutating func connectionEnded()
    /// Delivers messages larger than `pieceBytes` in pieces as they arrive (`.messagePiece`), up to
    /// `maxMessageBytes`; false when the wire cannot (it then assembles messages whole, as configured).
    mutating func streamMessages(pieceBytes: Int, maxMessageBytes: Int) -> Bool
    /// How long the connection may go without a compressed message before `restCompression()` is worth calling;
    /// nil when the wire holds no compression state that could rest.
    var compressionRestAfter: Duration? { get }
    /// Releases compression state while the connection is quiet (kept: what the next message needs). Between
    /// messages only: returns false, doing nothing, while a compressed message is half received.
    mutating func restCompression() -> Bool

    /// The key under which a message encoded for this wire can be shared between connections (a broadcast
    /// encodes it once per wire); nil when frames are specific to the connection (masked, compressed).
    var sharedEncodingKey: String? { get }
    /// The message as this wire's frame, for sharing under `sharedEncodingKey`; nil when the wire cannot
    /// carry it.
    static func encodeShared(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> ByteBuffer?
}

extension WebSocketWireEngine {
    /// The hixie drafts and WSR carry small messages whole.
    package mutating func streamMessages(pieceBytes: Int, maxMessageBytes: Int) -> Bool { false }

    /// The hixie drafts and WSR have no compression.
    package var compressionRestAfter: Duration? { nil }
    package mutating func restCompression() -> Bool { false }

    /// The wire's name in logs and metrics (`rfc6455`, `hixie75`, `hixie76`, `wsr`).
    package var wireName: String { wire.rawValue }
}

extension RFC6455Connection: WebSocketWireEngine {
    public var wire: WebSocketWire { .rfc6455 }
    public var canPing: Bool { true }
    public var closeAtEndOfStream: (code: UInt16, clean: Bool) { (CloseCode.abnormalClosure.rawValue, false) }
    public var closesByDroppingConnection: Bool { false }
    public var sharedEncodingKey: String? { role == .server && compression == nil ? "rfc6455-server" : nil }

    public mutating func streamMessages(pieceBytes: Int, maxMessageBytes: Int) -> Bool {
        configuration.streamedPieceBytes = pieceBytes
        configuration.maxMessageSize = maxMessageBytes
        configuration.maxFrameSize = maxMessageBytes
        return true
    }

    public static func encodeShared(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> ByteBuffer? {
        var bytes = ByteBuffer()
        FrameWriter.write(opcode: opcode, payload: payload, maskingKey: nil, into: &bytes)
        return bytes
    }
}
