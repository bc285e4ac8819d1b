import NIOCore

/// The RTMP chunk stream multiplexer as the Kaazing gateway wrote it (wsr.md §3): every message with a full
/// type-0 header, then type-3 continuation chunks at the outbound chunk size.
public struct RTMPChunkWriter: Sendable {
    public var chunkSize: Int

    public init(chunkSize: Int = 128) {
        self.chunkSize = chunkSize
    }

    public func write(_ message: RTMPMessage, into out: inout ByteBuffer) {
        let extended = message.timestamp >= 0xFFFFFF
        var payload = message.payload
        var first = true
        repeat {
            Self.writeBasicHeader(format: first ? 0 : 3, csid: message.chunkStreamID, into: &out)
            if first {
                Self.write24(extended ? 0xFFFFFF : message.timestamp, into: &out)
                Self.write24(UInt32(message.payload.readableBytes), into: &out)
                out.writeInteger(message.typeID)
                out.writeInteger(message.messageStreamID, endianness: .little)
            }
            if extended { out.writeInteger(message.timestamp) }
            var piece = payload.readSlice(length: min(chunkSize, payload.readableBytes))!
            out.writeBuffer(&piece)
            first = false
        } while payload.readableBytes > 0
    }

    static func writeBasicHeader(format: UInt8, csid: UInt32, into out: inout ByteBuffer) {
        switch csid {
        case 2...63:
            out.writeInteger(format << 6 | UInt8(csid))
        case 64...319:
            out.writeInteger(format << 6)
            out.writeInteger(UInt8(csid - 64))
        default:
            out.writeInteger(format << 6 | 1)
            out.writeInteger(UInt8((csid - 64) & 0xFF))
            out.writeInteger(UInt8((csid - 64) >> 8))
        }
    }

    static func write24(_ v: UInt32, into out: inout ByteBuffer) {
        out.writeBytes([UInt8(v >> 16 & 0xFF), UInt8(v >> 8 & 0xFF), UInt8(v & 0xFF)])
    }
}
