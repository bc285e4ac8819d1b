import NIOCore

/// The sans-IO engine of one WebSocket wire, as the transport's channel handler drives it: RFC 6455
/// (`RFC6455Connection`) or a hixie draft (`HixieConnection`). The handler's batching, backpressure, limits and
/// close timing are the same for every wire; what differs — framing, whether there are pings, how a close is
/// said — is behind this protocol.
public protocol WebSocketWireEngine: Sendable {
    var role: RFC6455Connection.Role { get }
    var state: RFC6455Connection.State { get }
    /// Set once the peer broke the protocol; the close due is `writeClose(inputFailure)`.
    var inputFailure: CloseFrame? { get }
    var canSendMessages: Bool { get }
    /// The wire's name in logs and metrics (`rfc6455`, `hixie75`, `hixie76`).
    var wireName: String { get }
    /// Whether the wire can ping (RFC 6455 can; the hixie drafts cannot, so keep-alive pings are off there).
    var canPing: Bool { get }
    /// How the connection ended when the TCP connection closed before any close handshake completed.
    var closeAtEndOfStream: (code: UInt16, clean: Bool) { get }
    /// Whether closing means dropping the TCP connection once pending writes are out (hixie-75 has no close
    /// frame), rather than sending a close and waiting for the peer's.
    var closesByDroppingConnection: Bool { get }

    /// Consumes bytes until one action is ready (or `input` is exhausted: nil); replies the protocol makes
    /// itself (pong, close echo) go into `output`.
    mutating func read(from input: inout ByteBuffer, output: inout ByteBuffer) -> RFC6455Connection.InboundAction?
    /// Appends a complete message. False when nothing was written: a close was sent, or the wire cannot carry
    /// the message (binary that is not UTF-8 on a hixie connection).
    mutating func writeMessage(_ opcode: WebSocketOpcode, payload: ByteBuffer, into output: inout ByteBuffer) -> Bool
    /// The frame header alone, so a large payload can follow as its own buffer; false when the wire or role
    /// needs the payload copied.
    func writeUnmaskedHeader(_ opcode: WebSocketOpcode, payloadLength: Int, into output: inout ByteBuffer) -> Bool
    mutating func writePing(_ payload: ByteBuffer, into output: inout ByteBuffer) -> Bool
    mutating func writeClose(_ frame: CloseFrame, into output: inout ByteBuffer) -> Bool
    mutating func connectionEnded()

    /// The key under which a message encoded for this wire can be shared between connections (a broadcast
    /// encodes it once per wire); nil when frames are specific to the connection (masked, compressed).
    var sharedEncodingKey: String? { get }
    /// The message as this wire's frame, for sharing under `sharedEncodingKey`; nil when the wire cannot
    /// carry it.
    static func encodeShared(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> ByteBuffer?
}

extension RFC6455Connection: WebSocketWireEngine {
    public var wireName: String { "rfc6455" }
    public var canPing: Bool { true }
    public var closeAtEndOfStream: (code: UInt16, clean: Bool) { (CloseCode.abnormalClosure.rawValue, false) }
    public var closesByDroppingConnection: Bool { false }
    public var sharedEncodingKey: String? { role == .server && compression == nil ? "rfc6455-server" : nil }

    public static func encodeShared(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> ByteBuffer? {
        var bytes = ByteBuffer()
        FrameWriter.write(opcode: opcode, payload: payload, maskingKey: nil, into: &bytes)
        return bytes
    }
}
