import NIOCore

/// A complete WebSocket message, whatever wire carried it.
///
/// The payload stays a `ByteBuffer` so a service that forwards bytes (echo, broadcast, proxy) never
/// converts them to a `String` and back; text payloads are already validated UTF-8.
public struct WebSocketMessage: Sendable, Hashable {
    public enum Kind: Sendable, Hashable { case text, binary }

    public var kind: Kind
    public var data: ByteBuffer

    public init(kind: Kind, data: ByteBuffer) {
        self.kind = kind
        self.data = data
    }

    public static func text(_ string: String) -> WebSocketMessage {
        WebSocketMessage(kind: .text, data: ByteBuffer(string: string))
    }

    public static func binary(_ data: ByteBuffer) -> WebSocketMessage {
        WebSocketMessage(kind: .binary, data: data)
    }

    public static func binary<Bytes: Sequence>(_ bytes: Bytes) -> WebSocketMessage where Bytes.Element == UInt8 {
        WebSocketMessage(kind: .binary, data: ByteBuffer(bytes: bytes))
    }

    /// The payload decoded as UTF-8 (for binary messages, with replacement characters where invalid).
    public var text: String { String(buffer: data) }
}

/// How a connection ended.
public struct WebSocketCloseInfo: Sendable, Hashable, CustomStringConvertible {
    /// The code the peer sent (1005 when its close frame had none, 1006 when no close frame arrived).
    public var code: UInt16
    public var reason: String
    /// Whether the close handshake completed (both sides sent a close frame).
    public var wasClean: Bool

    public init(code: UInt16, reason: String, wasClean: Bool) {
        self.code = code
        self.reason = reason
        self.wasClean = wasClean
    }

    public var description: String { "\(code)\(reason.isEmpty ? "" : " \(reason)")\(wasClean ? "" : " (unclean)")" }
}
