import NIOCore
import WebSocketEngine

/// Settings of one gateway listener. The defaults are the embedded configuration `wsgate serve` uses.
public struct ServerConfiguration: Sendable {
    public var host: String
    public var port: Int
    /// Frame and message limits of every RFC 6455 connection.
    public var engine: RFC6455Connection.Configuration
    /// Bounds on the handshake request head.
    public var handshakeLimits: HTTPHeadParser.Limits
    /// A client that has not completed its handshake by then is disconnected (slowloris).
    public var handshakeTimeout: TimeAmount
    /// How long to wait for the peer's close frame or TCP close after a close frame was sent.
    public var closeTimeout: TimeAmount
    public var backlog: Int32
    /// Sizes of the buffers connections read into. NIO keeps each connection's last buffer for its next
    /// read, so the initial size is memory every idle connection holds; it adapts upward under load.
    public var receiveBufferSizing: AdaptiveRecvByteBufferAllocator
    /// Bytes one connection may read in one turn of its event loop before the loop serves its other connections
    /// and new ones (rounded to reads of a power of two, see `ReadBudget`). Under a flood, a new connection's
    /// handshake waits for a turn of every busy connection on its loop: smaller is fairer, larger saves a few
    /// percent of per-read work. 256 KiB (four reads of 64 KiB, where NIO's fixed 16 were before) costs a plain
    /// flood ~3 % of its messages and cuts a newcomer's wait ×4 (BENCHMARKS.md, "Fairness under a flood").
    public var readBudget: Int
    /// The same for a connection that negotiated permessage-deflate, whose every byte costs tens of times more to
    /// process (inflate, and deflate for what it sends back): 32 KiB, one read — under a compressed flood a
    /// newcomer waited 7–13 s before, half a second now, for ~5 % of the flood's messages.
    public var compressedReadBudget: Int
    /// TLS (`wss://`) on this listener; nil serves plain `ws://`.
    public var tls: ServerTLS?
    /// Connections held at once (handshaking or open); one more is answered `503` and closed.
    public var maxConnections: Int
    /// Connections held at once from one client IP address; one more is answered `503` and closed.
    public var maxConnectionsPerAddress: Int
    /// New handshakes per second per client address (`429` over it); nil: no limit. Shared by the listener's
    /// connections (and by copies of this configuration).
    public var handshakeRateLimiter: HandshakeRateLimiter?
    /// How long a graceful shutdown waits for connections to finish their close handshake after 1001.
    public var shutdownGracePeriod: TimeAmount
    /// Ping a client after this long without a frame from it (keeps NATs and proxies from dropping quiet
    /// connections, and finds dead peers); nil never pings.
    public var pingInterval: TimeAmount?
    /// Close with 1011 when a pinged client stays silent this long.
    public var pongTimeout: TimeAmount
    /// Close with 1001 after this long without a data message either way; nil keeps idle connections.
    public var idleTimeout: TimeAmount?
    /// Bytes that may queue for a client that does not read before it is disconnected with 1008.
    public var maxSendQueueBytes: Int
    /// A WSR session created over HTTP must be opened over RTMP (`connect` … `play`) within this (wsr.md §1.4):
    /// after it the created URL is no longer accepted, and an RTMP connection still setting up is closed.
    public var wsrConnectDeadline: TimeAmount
    /// `HOST:PORT` that a WSR create names for the session's RTMP leg; nil: the create's `Host` (wsr.md §1.2).
    /// Behind a load balancer each node advertises its own address, so the RTMP connection reaches the node that
    /// holds the session rather than whichever node the balancer picks.
    public var wsrAdvertisedAddress: String?

    public init(host: String = "127.0.0.1", port: Int = 8080,
                engine: RFC6455Connection.Configuration = .default,
                handshakeLimits: HTTPHeadParser.Limits = .init(),
                handshakeTimeout: TimeAmount = .seconds(10),
                closeTimeout: TimeAmount = .seconds(5),
                backlog: Int32 = 4096,
                receiveBufferSizing: AdaptiveRecvByteBufferAllocator = .init(minimum: 64, initial: 256, maximum: 65536)) {
        self.host = host
        self.port = port
        self.engine = engine
        self.handshakeLimits = handshakeLimits
        self.handshakeTimeout = handshakeTimeout
        self.closeTimeout = closeTimeout
        self.backlog = backlog
        self.receiveBufferSizing = receiveBufferSizing
        self.readBudget = 256 << 10
        self.compressedReadBudget = 32 << 10
        self.tls = nil
        self.maxConnections = 100_000
        self.maxConnectionsPerAddress = .max
        self.shutdownGracePeriod = .seconds(10)
        self.pingInterval = .seconds(30)
        self.pongTimeout = .seconds(20)
        self.idleTimeout = nil
        self.maxSendQueueBytes = 64 << 20
        self.wsrConnectDeadline = .seconds(60)
        self.wsrAdvertisedAddress = nil
    }
}
