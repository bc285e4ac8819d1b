import NIOCore

/// A WebSocket message as WSR carries it (wsr.md §5): one RTMP type-15 (AMF3 data) message whose body is
/// `00`, the AMF0 string "d", the switch-to-AMF3 marker `11`, then an AMF3 ByteArray (`0C`) — or String (`06`)
/// for text — holding the payload.
public enum WSRDataMessage {
    public static let handlerName = "d"

    /// The payload of a WSR data message and whether it came as an AMF3 String (text), or nil when the body is
    /// not one.
    public static func payload(of body: ByteBuffer) -> (bytes: [UInt8], text: Bool)? {
        var b = body
        guard b.readInteger(as: UInt8.self) == 0x00 else { return nil }
        var decoder = AMFDecoder(b)
        guard let name = try? decoder.decode(), name == .string(handlerName), let value = try? decoder.decode(),
              decoder.isAtEnd else { return nil }
        switch value {
        case .amf3ByteArray(let bytes): return (bytes, false)
        case .amf3String(let s): return (Array(s.utf8), true)
        default: return nil
        }
    }

    /// The body of a WSR data message carrying `payload` (ByteArray, or String when `text`).
    public static func body(_ payload: [UInt8], text: Bool = false) -> ByteBuffer {
        body(ByteBuffer(bytes: payload), text: text)
    }

    /// The same from a buffer, copied once into the body (the send path: no intermediate array or String).
    public static func body(_ payload: ByteBuffer, text: Bool = false) -> ByteBuffer {
        var out = ByteBuffer()
        out.reserveCapacity(payload.readableBytes + 12)
        out.writeInteger(UInt8(0x00))
        AMFEncoder.encode(.string(handlerName), into: &out)
        out.writeBytes([0x11, text ? 0x06 : 0x0C]) // switch to AMF3; String or ByteArray
        AMFEncoder.writeU29(UInt32(payload.readableBytes) << 1 | 1, into: &out)
        var payload = payload
        out.writeBuffer(&payload)
        return out
    }
}
