import MSRPEngine
import WebSocketTransport

/// Settings of the MSRP relay (RFC 4976 with RFC 7977's WebSocket legs).
public struct MSRPRelaySettings: Sendable {
    /// The host name the relay's URIs carry (`msrp://HOST:PORT;tcp`, `…;ws`).
    public var host: String
    /// The MSRP TCP listener's port (2855 by default); `Use-Path` names it.
    public var tcpPort: Int
    /// The gateway port the WebSocket leg is reached on, for the relay's `;ws` URIs.
    public var webSocketPort: Int
    /// Digest realm; nil: no Digest (AUTH is admitted for a WebSocket handshake identity, or from anyone when
    /// `allowsAnonymousAUTH`).
    public var realm: String?
    /// Whether AUTH without Digest and without a handshake identity is admitted (the relay's first behaviour).
    /// The gateway turns it off when the WebSocket leg has `auth`; a file relay with neither `auth` nor a realm
    /// must say `allow_anonymous: true`.
    public var allowsAnonymousAUTH = true
    /// HA1 by user for `realm` (an htdigest file's entries).
    public var credentials: HTDigestFile?
    /// Limits of a chunk taken whole: a WebSocket message, or a request other than SEND (bounded by the gateway's
    /// message size), and of every head.
    public var limits = MSRPParser.Limits()
    /// The largest SEND chunk a TCP or TLS leg streams through (`--msrp-max-chunk-size`, `max_chunk_size`): its
    /// body is forwarded as it arrives and never held, so this can be far above `limits.maxBodyBytes`. RFC 4975
    /// puts no bound on a chunk; a bound still ends a stream that would never end.
    public var maxStreamedChunkBytes = 1 << 30
    /// How long a forwarded request may wait for the next hop's response before the relay gives up on it and
    /// sends a `408` REPORT (RFC 4975 §7.1.1 suggests 30 s; `transaction_timeout`).
    public var transactionTimeout: Duration = .seconds(30)
    /// The largest chunk sent as one WebSocket message; larger chunks are re-chunked (RFC 7977 §5.1).
    public var maxWebSocketMessage = 64 << 10
    /// A certificate for `msrps`: the TCP listener then also speaks TLS (told apart by the first byte), and
    /// `Use-Path` names the relay as `msrps`.
    public var tls: ServerTLS?
    /// How `msrps` next hops are verified.
    public var clientTLS = ClientTLS()
    /// Seconds a Digest nonce stays valid.
    public var nonceLifetime: UInt64 = 300
    /// The key nonces are made with (`NonceIssuer`); nil: a random one per process. Relays that share it accept
    /// each other's nonces, so an AUTH challenged by one node can be answered to another behind a load balancer.
    public var nonceSecret: [UInt8]?

    public init(host: String = "127.0.0.1", tcpPort: Int = 2855, webSocketPort: Int = 8080) {
        self.host = host
        self.tcpPort = tcpPort
        self.webSocketPort = webSocketPort
    }

    /// The engine's configuration: the relay's own URIs (every listener, both schemes) and its Use-Path.
    func relayConfiguration() throws -> MSRPRelay.Configuration {
        var config = MSRPRelay.Configuration(
            ownURIs: [
                try MSRPURI(parsing: "msrp://\(host):\(tcpPort);tcp"), try MSRPURI(parsing: "msrps://\(host):\(tcpPort);tcp"),
                try MSRPURI(parsing: "msrp://\(host):\(webSocketPort);ws"), try MSRPURI(parsing: "msrps://\(host):\(webSocketPort);ws"),
            ],
            usePathBase: try MSRPURI(parsing: "\(tls == nil ? "msrp" : "msrps")://\(host):\(tcpPort);tcp"),
            realm: realm)
        config.defaultExpires = 900
        config.transactionTimeout = transactionTimeout
        config.allowsAnonymousAUTH = allowsAnonymousAUTH
        return config
    }
}
