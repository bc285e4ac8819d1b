import NIOCore
import WebSocketEngine

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

/// How a connection ended (the engine's `CloseOutcome`: the close lifecycle decides it for every wire).
public typealias WebSocketCloseInfo = CloseOutcome
