import MSRPEngine
import NIOCore

/// A TCP (or TLS) leg: a client of the MSRP listener, or an outbound connection to a next hop. The stream is
/// parsed as it arrives, one chunk's body held at most.
final class MSRPStreamLeg: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: mutable state is touched on the channel's event loop only.
    typealias InboundIn = ByteBuffer

    private let relay: MSRPRelayService
    private var reader: MSRPChunkReader
    /// The relay's handle on this connection, from the moment the handler is added until it goes.
    private(set) var leg: StreamLegSink?

    init(relay: MSRPRelayService) {
        self.relay = relay
        self.reader = MSRPChunkReader(limits: relay.settings.limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        leg = relay.register { id in StreamLegSink(id: id, channel: channel) }
    }

    /// Also reached when an outbound connection never came up (no channelInactive then).
    func handlerRemoved(context: ChannelHandlerContext) {
        if let leg { relay.unregister(leg.id) }
        leg = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let leg else { return }
        var input = unwrapInboundIn(data)
        while let result = reader.next(&input) {
            switch result {
            case .success(let chunk):
                relay.received(chunk, on: leg.id)
            case .failure(let failure):
                relay.malformed(failure, on: leg.id)
                return
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if let leg { relay.unregister(leg.id) }
        leg = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A TCP connection as the relay's leg (both the listener's clients and outbound next hops): chunks go out whole.
final class StreamLegSink: MSRPLeg {
    let id: MSRPRelay.ConnectionID
    let channel: any Channel
    var maxChunkBytes: Int? { nil }

    init(id: MSRPRelay.ConnectionID, channel: any Channel) {
        self.id = id
        self.channel = channel
    }

    func send(_ chunk: MSRPChunk) {
        channel.writeAndFlush(chunk.serialized(), promise: nil)
    }

    func close() {
        channel.close(promise: nil)
    }
}
