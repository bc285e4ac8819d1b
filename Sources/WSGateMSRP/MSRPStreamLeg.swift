import Logging
import MSRPEngine
import NIOCore

/// A TCP (or TLS) leg: a client of the MSRP listener, or an outbound connection to a next hop. The channel handler
/// that feeds the stream to an `MSRPIntake` (which parses, routes and streams it) and pauses reading when it asks.
/// Not `Sendable`: its state is the channel's event loop's (callbacks from other loops hop onto it first).
final class MSRPStreamLeg: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let relay: MSRPRelayService
    private var intake: MSRPIntake?

    /// The relay's handle on this connection, from the moment the handler is added until it goes.
    var leg: MSRPLeg? { intake?.leg }

    init(relay: MSRPRelayService) {
        self.relay = relay
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        intake = MSRPIntake(relay: relay, leg: relay.register(ChannelLegTransport(channel: channel)), framing: .stream,
                            eventLoop: context.eventLoop,
                            setReading: { channel.setOption(ChannelOptions.autoRead, value: $0).whenFailure { _ in } },
                            close: { channel.close(promise: nil) })
    }

    /// Also reached when an outbound connection never came up (no channelInactive then).
    func handlerRemoved(context: ChannelHandlerContext) {
        intake?.connectionGone()
        intake = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        intake?.connectionGone()
        intake = nil
        context.fireChannelInactive()
    }

    /// A TLS handshake refused (an unknown CA, a wrong name), a reset: said in the log with the peer, since what
    /// the relay reports to a source for it is only that the next hop's connection was lost.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        relay.logger.info("MSRP connection failed", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                                                             "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        intake?.receive(unwrapInboundIn(data))
    }
}
