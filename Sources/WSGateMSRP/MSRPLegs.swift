import MSRPEngine
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// The WebSocket leg (RFC 7977): one MSRP chunk per WebSocket message, either way. A chunk that is valid UTF-8
/// goes out as text, others as binary; a message that is not exactly one chunk is refused (400 when its
/// transaction can be named) and the connection closed with 1008.
final class MSRPWebSocketLeg: WebSocketHandler {
    private let relay: MSRPRelayService
    private var leg: WebSocketLegSink?

    init(relay: MSRPRelayService) {
        self.relay = relay
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        let maxBytes = relay.settings.maxWebSocketMessage
        leg = relay.register { id in WebSocketLegSink(id: id, connection: connection, maxChunkBytes: maxBytes) } as? WebSocketLegSink
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        guard let leg else { return }
        var reader = MSRPChunkReader(limits: relay.settings.limits)
        var data = message.data
        switch reader.next(&data) {
        case .success(let chunk)? where reader.isIdle && data.readableBytes == 0:
            relay.received(chunk, on: leg.id)
        case .failure(let failure)?:
            relay.malformed(failure, on: leg)
        default:
            relay.malformed(.init(reason: .malformedStartLine("a WebSocket message must carry exactly one MSRP chunk"), partialHead: nil), on: leg)
        }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        if let leg { relay.unregister(leg.id) }
    }
}

final class WebSocketLegSink: MSRPLeg {
    let id: MSRPRelay.ConnectionID
    let connection: any WebSocketConnection
    let maxChunkBytes: Int?

    init(id: MSRPRelay.ConnectionID, connection: any WebSocketConnection, maxChunkBytes: Int) {
        self.id = id
        self.connection = connection
        self.maxChunkBytes = maxChunkBytes
    }

    func send(_ chunk: MSRPChunk) {
        let bytes = chunk.serialized()
        let text = bytes.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
        connection.send(WebSocketMessage(kind: text ? .text : .binary, data: bytes))
    }

    func close() {
        connection.close(code: .policyViolation, reason: "MSRP protocol error")
    }
}

/// A TCP leg: a client of the MSRP listener, or an outbound connection to a next hop (`outbound` is its pool
/// key). The stream is parsed as it arrives, one chunk's body held at most.
final class MSRPStreamLeg: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: mutable state is touched on the channel's event loop only.
    typealias InboundIn = ByteBuffer

    private let relay: MSRPRelayService
    /// The pool key of an outbound connection (registered in the pool once connected).
    let outbound: String?
    private var reader: MSRPChunkReader
    private(set) var leg: OutboundLeg?

    init(relay: MSRPRelayService, outbound: String?) {
        self.relay = relay
        self.outbound = outbound
        self.reader = MSRPChunkReader(limits: relay.settings.limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let channel = context.channel
        leg = relay.register { id in OutboundLeg(id: id, channel: channel) } as? OutboundLeg
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
                relay.malformed(failure, on: leg)
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

/// A TCP connection as a leg (both the listener's clients and outbound next hops).
final class OutboundLeg: MSRPLeg {
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
