/// What a wire engine did with a write: written, or why nothing was — so the transport can tell a closed
/// connection (an ordinary race with the peer) from a message this wire cannot express (the caller's to hear of).
public enum WebSocketWriteResult: Sendable, Hashable {
    case written
    case refused(WebSocketWriteRefusal)

    public var isWritten: Bool { self == .written }
}

/// Why a wire engine wrote nothing.
public enum WebSocketWriteRefusal: Sendable, Hashable, CustomStringConvertible {
    /// A close was sent already (or the connection ended): nothing more goes out.
    case closed
    /// The wire cannot carry this message: binary that is not UTF-8 on a hixie connection.
    case notRepresentable
    /// A control frame's payload is limited to 125 bytes (RFC 6455 §5.5).
    case controlPayloadTooLong
    /// The wire has no such frame: pings on the hixie drafts and WSR.
    case unsupported

    public var description: String {
        switch self {
        case .closed: return "the connection is closing or closed"
        case .notRepresentable: return "the wire cannot carry this message"
        case .controlPayloadTooLong: return "a control frame's payload is at most 125 bytes"
        case .unsupported: return "the wire has no such frame"
        }
    }
}
