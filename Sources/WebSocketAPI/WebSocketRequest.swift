import NIOCore
import WebSocketEngine

/// What is fixed when a connection opens: the request that opened it and what was negotiated.
public struct WebSocketRequest: Sendable {
    /// The request path without the query, e.g. `/echo`.
    public var path: String
    /// The query after `?`, without the credential parameter access control read (it never reaches a service).
    public var query: String?
    public var headers: HTTPFields
    /// The `Origin` the client declared (browsers always send one).
    public var origin: String?
    public var remoteAddress: SocketAddress?
    public var wire: WebSocketWire
    /// The subprotocol both sides agreed on, if any.
    public var subprotocol: String?
    /// The permessage-deflate parameters both sides agreed on, if compression was negotiated.
    public var compression: PerMessageDeflate.Parameters?
    /// Whether the connection runs over TLS (`wss://`).
    public var secure = false
    /// Who the client is, when the service has access control (`auth`); nil on an open service.
    public var identity: WebSocketIdentity?

    public init(path: String, query: String? = nil, headers: HTTPFields = HTTPFields(), origin: String? = nil,
                remoteAddress: SocketAddress? = nil, wire: WebSocketWire, subprotocol: String? = nil) {
        self.path = path
        self.query = query
        self.headers = headers
        self.origin = origin
        self.remoteAddress = remoteAddress
        self.wire = wire
        self.subprotocol = subprotocol
    }
}
