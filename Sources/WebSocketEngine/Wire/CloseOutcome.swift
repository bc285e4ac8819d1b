/// How a connection ended, as its service hears it (`WebSocketCloseInfo` in the API): what `CloseLifecycle`
/// decides for every wire.
public struct CloseOutcome: Sendable, Hashable, CustomStringConvertible {
    /// The code the peer sent (1005 when its close frame had none, 1006 when no close frame arrived), or the
    /// code the gateway failed the connection with.
    public var code: UInt16
    public var reason: String
    /// Whether the close handshake completed (both sides sent a close frame; on hixie-75, the TCP close that
    /// is its close).
    public var wasClean: Bool

    public init(code: UInt16, reason: String, wasClean: Bool) {
        self.code = code
        self.reason = reason
        self.wasClean = wasClean
    }

    public var description: String { "\(code)\(reason.isEmpty ? "" : " \(reason)")\(wasClean ? "" : " (unclean)")" }
}
