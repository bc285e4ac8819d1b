import NIOCore

/// What a wire engine's `read` produced, in words every wire shares; the transport carries it out.
public enum WebSocketWireEvent: Sendable, Hashable {
    /// A complete data message: `.text` (already validated UTF-8) or `.binary`.
    case message(WebSocketOpcode, ByteBuffer)
    /// A piece of a data message too large to hold whole, delivered as it arrives — only on a connection asked to
    /// stream (`RFC6455Connection.Configuration.streamedPieceBytes`), only for messages that outgrow one piece (the
    /// others still come as `.message`). `isFirst` / `isLast` mark the message's ends; a text piece may end inside
    /// a UTF-8 sequence (the whole message is still validated, and a failure ends the connection as ever).
    case messagePiece(WebSocketOpcode, ByteBuffer, isFirst: Bool, isLast: Bool)
    /// A ping arrived; its pong has been appended to the output already.
    case ping(ByteBuffer)
    /// A pong arrived (a reply to our ping, or unsolicited).
    case pong(ByteBuffer)
    /// The close handshake is complete on our side. When the peer started it, our reply is in the output.
    /// A server then closes the TCP connection; a client waits for the server to do so (RFC 6455 §7.1.1).
    case closed(CloseFrame, initiatedByPeer: Bool)
    /// The peer broke the protocol; nothing more is read. The I/O layer sends a close with `code`
    /// (`writeClose(inputFailure)`) — after replies to messages already delivered, if it likes — and closes TCP.
    case failed(CloseCode, reason: String)
}
