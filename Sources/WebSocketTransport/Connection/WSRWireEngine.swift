import NIOCore
import RTMPEngine
import WebSocketEngine

/// An open WSR session as a wire engine, so the one channel handler serves it like any other WebSocket:
/// messages are RTMP AMF3 data messages (`WSRConnection`), there are no pings, and closing is closing TCP
/// (`deleteStream` from the peer closes too).
struct WSRWireEngine: WebSocketWireEngine {
    var connection: WSRConnection
    private(set) var state: WebSocketConnectionState = .open
    private(set) var inputFailure: CloseFrame?

    let role: WebSocketRole

    init(connection: WSRConnection, role: WebSocketRole = .server) {
        self.connection = connection
        self.role = role
    }
    var canSendMessages: Bool { state == .open }
    var wire: WebSocketWire { .wsr }
    var canPing: Bool { false }
    /// WSR has no close frame: a TCP close without `deleteStream` is what a native WebSocket reports as 1006.
    var closeAtEndOfStream: (code: UInt16, clean: Bool) { (CloseCode.abnormalClosure.rawValue, false) }
    var closesByDroppingConnection: Bool { true }
    var sharedEncodingKey: String? { nil } // frames carry this session's stream id

    mutating func read(from input: inout ByteBuffer, output: inout ByteBuffer) -> WebSocketWireEvent? {
        guard state != .closed, inputFailure == nil else {
            input.moveReaderIndex(to: input.writerIndex)
            return nil
        }
        switch connection.next(&input, replies: &output) {
        case nil:
            return nil
        case .message(let bytes, let text)?:
            return .message(text ? .text : .binary, ByteBuffer(bytes: bytes))
        case .closed?:
            state = .closed
            return .closed(CloseFrame(code: nil), initiatedByPeer: true)
        case .failed(let reason)?:
            inputFailure = CloseFrame(code: .protocolError, reason: reason)
            return .failed(.protocolError, reason: reason)
        }
    }

    mutating func writeMessage(_ opcode: WebSocketOpcode, payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        connection.write(payload, text: opcode == .text, into: &output)
        return .written
    }

    func writeUnmaskedHeader(_ opcode: WebSocketOpcode, payloadLength: Int, into output: inout ByteBuffer) -> Bool { false }
    mutating func writePing(_ payload: ByteBuffer, into output: inout ByteBuffer) -> WebSocketWriteResult {
        .refused(state == .open ? .unsupported : .closed)
    }

    /// No close frame in WSR: a client sends `deleteStream` (so the server sees a clean close, 1005, rather than a
    /// dropped connection) and half-closes, reading the server's last messages; a server just closes TCP.
    mutating func writeClose(_ frame: CloseFrame, into output: inout ByteBuffer) -> WebSocketWriteResult {
        guard state == .open else { return .refused(.closed) }
        state = .closeSent
        if connection.role == .client { connection.writeDeleteStream(into: &output) }
        return .written
    }

    mutating func connectionEnded() {
        state = .closed
    }

    static func encodeShared(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> ByteBuffer? { nil }
}
