import MSRPEngine
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// The WebSocket leg (RFC 7977): one MSRP chunk per WebSocket message, either way. A chunk that is valid UTF-8
/// goes out as text, others as binary; a message that is not exactly one chunk is refused (400 when its
/// transaction can be named) and the connection closed with 1008.
final class MSRPWebSocketLeg: WebSocketHandler {
    private let relay: MSRPRelayService
    private var leg: MSRPLeg?

    init(relay: MSRPRelayService) {
        self.relay = relay
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        leg = relay.register(WebSocketLegTransport(connection: connection), identity: connection.request.identity?.subject)
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        guard let leg else { return }
        var reader = MSRPChunkReader(limits: relay.settings.limits)
        var data = message.data
        switch reader.next(&data) {
        case .success(let chunk)? where reader.isIdle && data.readableBytes == 0:
            // A message is whole when it arrives (bounded by the WebSocket message limit); a next hop that drains
            // slower than this client sends pauses reading from it.
            if let target = relay.received(chunk, on: leg.id), !target.hasRoom {
                connection.setReadingPaused(true)
                target.whenRoom { connection.setReadingPaused(false) }
            }
        case .failure(let failure)?:
            relay.malformed(failure, on: leg.id)
        default:
            relay.malformed(.init(reason: .malformedStartLine("a WebSocket message must carry exactly one MSRP chunk"), partialHead: nil),
                            on: leg.id)
        }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        if let leg { relay.unregister(leg) }
        leg = nil
    }
}
