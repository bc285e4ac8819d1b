import NIOCore
import WebSocketAPI

/// A batch's messages as one `bytea`: for each, in publish order, a kind byte (1 text, 2 binary) and three
/// length-prefixed fields (big-endian `UInt32` lengths): the service's path, the topic, the payload. Decoding
/// slices the one buffer PostgreSQL sent, so a payload is not copied on its way to the fan-out.
enum BackplaneBatchCodec {
    static func encode(_ messages: some Collection<BackplaneMessage>) -> ByteBuffer {
        var body = ByteBuffer()
        body.reserveCapacity(messages.reduce(0) { $0 + 13 + $1.size })
        for m in messages {
            body.writeInteger(m.message.kind == .binary ? UInt8(2) : UInt8(1))
            body.writeInteger(UInt32(m.service.utf8.count))
            body.writeString(m.service)
            body.writeInteger(UInt32(m.topic.utf8.count))
            body.writeString(m.topic)
            body.writeInteger(UInt32(m.message.data.readableBytes))
            body.writeImmutableBuffer(m.message.data)
        }
        return body
    }

    /// The batch's `count` messages, or `BackplaneBatchError` when the body is not `count` well-formed messages.
    static func decode(_ body: ByteBuffer, count: Int64) throws -> [BackplaneMessage] {
        var body = body
        var messages: [BackplaneMessage] = []
        messages.reserveCapacity(Int(clamping: min(count, 1 << 16)))
        for _ in 0..<max(0, count) {
            guard let kindByte = body.readInteger(as: UInt8.self), kindByte == 1 || kindByte == 2,
                  let service = readField(&body).map({ String(buffer: $0) }),
                  let topic = readField(&body).map({ String(buffer: $0) }),
                  let payload = readField(&body) else {
                throw BackplaneBatchError(reason: "message \(messages.count + 1) of \(count) is cut short or malformed")
            }
            messages.append(BackplaneMessage(service: service, topic: topic,
                                             message: WebSocketMessage(kind: kindByte == 2 ? .binary : .text, data: payload)))
        }
        guard body.readableBytes == 0 else {
            throw BackplaneBatchError(reason: "\(body.readableBytes) bytes after its \(count) messages")
        }
        return messages
    }

    private static func readField(_ body: inout ByteBuffer) -> ByteBuffer? {
        guard let length = body.readInteger(as: UInt32.self) else { return nil }
        return body.readSlice(length: Int(length))
    }
}

/// A batch body that does not hold what its row says (written by something other than a wsgate node).
struct BackplaneBatchError: Error, CustomStringConvertible {
    var reason: String
    var description: String { "backplane batch: \(reason)" }
}
