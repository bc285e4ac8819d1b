import NIOCore

/// A handler that takes messages too large to hold whole as pieces while they arrive — for a service that
/// forwards what it reads (the MSRP relay: RFC 7977 carries one MSRP chunk per WebSocket message, and a chunk may be
/// a gigabyte). Messages up to `streaming.pieceBytes` still come whole to `connection(_:didReceive:)`; larger ones
/// come to `connection(_:didReceivePiece:)` in order, as the frames arrive, so the connection never holds more than
/// about a piece of them.
///
/// Streaming is an RFC 6455 capability: on the hixie drafts and WSR, whose messages are small by nature, such a
/// handler gets whole messages, bounded by the listener's message limit as every other handler's.
public protocol WebSocketStreamingHandler: WebSocketHandler {
    var streaming: WebSocketMessageStreaming { get }
    /// The next piece of a message larger than `streaming.pieceBytes`.
    func connection(_ connection: any WebSocketConnection, didReceivePiece piece: WebSocketMessagePiece)
}

/// How a `WebSocketStreamingHandler` takes large messages.
public struct WebSocketMessageStreaming: Sendable, Hashable {
    /// Messages up to this size come whole; larger ones in pieces of about this size.
    public var pieceBytes: Int
    /// The largest message the handler takes (it replaces the listener's message limit on its connections:
    /// what it bounds is the handler's to say, since it never holds the message whole). Larger: close 1009.
    public var maxMessageBytes: Int

    public init(pieceBytes: Int = 64 << 10, maxMessageBytes: Int) {
        self.pieceBytes = pieceBytes
        self.maxMessageBytes = maxMessageBytes
    }
}

/// One piece of a streamed message: the pieces of a message, in order, are its payload.
public struct WebSocketMessagePiece: Sendable, Hashable {
    public var kind: WebSocketMessage.Kind
    public var data: ByteBuffer
    /// The message's first piece, and its last (after which the next message begins).
    public var isFirst: Bool
    public var isLast: Bool

    public init(kind: WebSocketMessage.Kind, data: ByteBuffer, isFirst: Bool, isLast: Bool) {
        self.kind = kind
        self.data = data
        self.isFirst = isFirst
        self.isLast = isLast
    }
}
