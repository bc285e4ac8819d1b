/// Which end of a WebSocket an engine is: it decides who masks (RFC 6455 §5.3), who closes TCP first (§7.1.1)
/// and, on the drafts, how invalid text is treated.
public enum WebSocketRole: Sendable, Hashable {
    /// Expects masked frames, sends unmasked ones.
    case server
    /// Expects unmasked frames, sends masked ones.
    case client
}

/// Where an engine's close handshake stands, the same for every wire.
public enum WebSocketConnectionState: Sendable, Hashable {
    case open
    /// We sent a close (frame, or its wire's equivalent) and wait for the peer's.
    case closeSent
    /// Nothing more will be read or written.
    case closed
}
