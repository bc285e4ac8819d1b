import NIOConcurrencyHelpers
import NIOCore

/// A message encoded at most once per wire format and shared by every recipient (broadcast).
///
/// Each wire asks for its encoding under a key (e.g. "rfc6455-server"); the first asker encodes, the
/// others get the same `ByteBuffer`, whose storage NIO writes to each socket without copying.
public final class PreparedMessage: Sendable {
    public let message: WebSocketMessage
    private let encodings = NIOLockedValueBox<[String: ByteBuffer]>([:])

    public init(_ message: WebSocketMessage) {
        self.message = message
    }

    /// The encoding for `key`, made by `encode` the first time it is asked for.
    public func encoded(for key: String, _ encode: (WebSocketMessage) -> ByteBuffer) -> ByteBuffer {
        encodings.withLockedValue { cache in
            if let hit = cache[key] { return hit }
            let bytes = encode(message)
            cache[key] = bytes
            return bytes
        }
    }
}
