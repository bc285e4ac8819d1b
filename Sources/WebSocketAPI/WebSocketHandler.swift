import NIOCore

/// The per-connection callbacks of a service. Called on the connection's event loop, one at a time.
public protocol WebSocketHandler: AnyObject {
    func connectionDidOpen(_ connection: any WebSocketConnection)
    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage)
    /// Called once, when the connection is gone.
    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo)
    /// Called when `isWritable` changed.
    func connectionWritabilityDidChange(_ connection: any WebSocketConnection)
    /// A pong arrived: the answer to a `ping` (its payload echoed) or an unsolicited one (RFC 6455 §5.5.3). For
    /// keep-alive round trips (`wsgate connect --show-ping`); most handlers ignore it.
    func connection(_ connection: any WebSocketConnection, didReceivePong payload: ByteBuffer)

    /// True while messages already delivered are still being processed elsewhere (an async consumer).
    /// When the peer breaks the protocol, the connection then waits for `inboundDidDrain()` (bounded by
    /// the close timeout) before failing, so replies to earlier messages still go out.
    var hasUnfinishedInbound: Bool { get }
}

extension WebSocketHandler {
    public func connectionDidOpen(_ connection: any WebSocketConnection) {}
    public func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {}
    public func connectionWritabilityDidChange(_ connection: any WebSocketConnection) {}
    public func connection(_ connection: any WebSocketConnection, didReceivePong payload: ByteBuffer) {}
    public var hasUnfinishedInbound: Bool { false }
}
