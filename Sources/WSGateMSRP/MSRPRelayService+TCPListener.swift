import NIOCore
import NIOPosix
import WebSocketTransport

extension MSRPRelayService {
    /// Starts the MSRP TCP listener; the returned channel is its server channel. With a certificate the port takes
    /// `msrps` and plain `msrp` alike, told apart by the first byte (the transport's `TLSSniffer`).
    public func startTCPListener(host: String, port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [settings, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = settings.tls {
                        try channel.pipeline.syncOperations.addHandler(TLSSniffer(tls: tls, logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(MSRPStreamLeg(relay: self))
                }
            }
            .bind(host: host, port: port).get()
    }
}
