/// Which wire protocol a connection speaks: the one name the API (`WebSocketRequest.wire`), the logs and the
/// metrics' `protocol` label use for it. Services rarely care; logs and metrics do.
public enum WebSocketWire: String, Sendable, Hashable, CaseIterable {
    /// RFC 6455.
    case rfc6455
    /// draft-hixie-thewebsocketprotocol-75 (and -54/-55, which share its handshake).
    case hixie75
    /// draft-hixie-thewebsocketprotocol-76 (= draft-ietf-hybi-00).
    case hixie76
    /// WebSocket emulated over RTMP (Kaazing's WSR).
    case wsr

    /// The wire a hixie draft speaks.
    public init(_ draft: HixieDraft) {
        self = draft == .hixie75 ? .hixie75 : .hixie76
    }
}
