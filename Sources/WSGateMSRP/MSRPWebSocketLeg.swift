import MSRPEngine
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// The WebSocket leg (RFC 7977): one MSRP chunk per WebSocket message, either way. What a client sends is read by
/// an `MSRPIntake`, as a TCP leg's stream is: a message larger than a piece arrives in pieces while its frames come
/// in (`WebSocketStreamingHandler`), so a SEND of a gigabyte in one chunk streams through the relay like one over
/// TCP, bounded by `--msrp-max-chunk-size` rather than the listener's message limit. A message that is not exactly
/// one chunk is refused (400 when its transaction can be named) and the connection closed with 1008. What goes to
/// the client is re-chunked to messages of at most `maxWebSocketMessage` bytes (`MSRPLeg`).
final class MSRPWebSocketLeg: WebSocketStreamingHandler {
    private let relay: MSRPRelayService
    private var intake: MSRPIntake?

    init(relay: MSRPRelayService) {
        self.relay = relay
    }

    var streaming: WebSocketMessageStreaming {
        // Room for the head and the end-line around the largest body: the parser bounds each part itself.
        WebSocketMessageStreaming(pieceBytes: MSRPLeg.pieceBytes,
                                  maxMessageBytes: relay.settings.maxStreamedChunkBytes + relay.settings.limits.maxHeadBytes + 256)
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        let leg = relay.register(WebSocketLegTransport(connection: connection), identity: connection.request.identity?.subject)
        intake = MSRPIntake(relay: relay, leg: leg, framing: .oneChunkPerMessage, eventLoop: connection.eventLoop,
                            setReading: { connection.setReadingPaused(!$0) },
                            close: { connection.close(code: .policyViolation, reason: "MSRP chunk stalled") })
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        intake?.receive(message.data, startsMessage: true, endsMessage: true)
    }

    func connection(_ connection: any WebSocketConnection, didReceivePiece piece: WebSocketMessagePiece) {
        intake?.receive(piece.data, startsMessage: piece.isFirst, endsMessage: piece.isLast)
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        intake?.connectionGone()
        intake = nil
    }
}
