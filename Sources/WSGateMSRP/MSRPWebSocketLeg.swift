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
        leg = relay.register(identity: connection.request.identity?.subject) { id in
            WebSocketLegSink(id: id, connection: connection, maxChunkBytes: maxBytes)
        }
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        guard let leg else { return }
        var reader = MSRPChunkReader(limits: relay.settings.limits)
        var data = message.data
        switch reader.next(&data) {
        case .success(let chunk)? where reader.isIdle && data.readableBytes == 0:
            relay.received(chunk, on: leg.id)
        case .failure(let failure)?:
            relay.malformed(failure, on: leg.id)
        default:
            relay.malformed(.init(reason: .malformedStartLine("a WebSocket message must carry exactly one MSRP chunk"), partialHead: nil),
                            on: leg.id)
        }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        if let leg { relay.unregister(leg.id) }
    }
}

/// A WebSocket connection as the relay's leg: each chunk one message, cut to `maxChunkBytes` by the relay.
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
