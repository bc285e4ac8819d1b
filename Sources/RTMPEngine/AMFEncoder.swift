import NIOCore

/// Writes AMF0 values (and the AMF3 ones after a switch marker).
public enum AMFEncoder {
    public static func encode(_ values: [AMFValue], into out: inout ByteBuffer) {
        for v in values { encode(v, into: &out) }
    }

    public static func encode(_ value: AMFValue, into out: inout ByteBuffer) {
        switch value {
        case .number(let d):
            out.writeInteger(UInt8(0x00))
            out.writeInteger(d.bitPattern)
        case .boolean(let b):
            out.writeBytes([0x01, b ? 1 : 0])
        case .string(let s):
            let bytes = Array(s.utf8)
            if bytes.count <= 0xFFFF {
                out.writeInteger(UInt8(0x02))
                out.writeInteger(UInt16(bytes.count))
            } else {
                out.writeInteger(UInt8(0x0C))
                out.writeInteger(UInt32(bytes.count))
            }
            out.writeBytes(bytes)
        case .object(let props):
            out.writeInteger(UInt8(0x03))
            writeProperties(props, into: &out)
        case .null: out.writeInteger(UInt8(0x05))
        case .undefined: out.writeInteger(UInt8(0x06))
        case .ecmaArray(let props):
            out.writeInteger(UInt8(0x08))
            out.writeInteger(UInt32(props.count))
            writeProperties(props, into: &out)
        case .strictArray(let items):
            out.writeInteger(UInt8(0x0A))
            out.writeInteger(UInt32(items.count))
            for item in items { encode(item, into: &out) }
        case .date(let d):
            out.writeInteger(UInt8(0x0B))
            out.writeInteger(d.bitPattern)
            out.writeInteger(Int16(0))
        case .amf3Integer(let i):
            out.writeBytes([0x11, 0x04])
            writeU29(UInt32(bitPattern: i) & 0x1FFF_FFFF, into: &out)
        case .amf3String(let s):
            out.writeBytes([0x11, 0x06])
            writeU29(UInt32(s.utf8.count) << 1 | 1, into: &out)
            out.writeString(s)
        case .amf3ByteArray(let bytes):
            out.writeBytes([0x11, 0x0C])
            writeU29(UInt32(bytes.count) << 1 | 1, into: &out)
            out.writeBytes(bytes)
        }
    }

    static func writeProperties(_ props: [(String, AMFValue)], into out: inout ByteBuffer) {
        for (key, value) in props {
            out.writeInteger(UInt16(key.utf8.count))
            out.writeString(key)
            encode(value, into: &out)
        }
        out.writeBytes([0x00, 0x00, 0x09])
    }

    /// AMF3's U29 (values below 2^29).
    public static func writeU29(_ v: UInt32, into out: inout ByteBuffer) {
        switch v {
        case 0..<0x80: out.writeInteger(UInt8(v))
        case 0x80..<0x4000: out.writeBytes([UInt8(v >> 7 | 0x80), UInt8(v & 0x7F)])
        case 0x4000..<0x20_0000: out.writeBytes([UInt8(v >> 14 | 0x80), UInt8(v >> 7 & 0x7F | 0x80), UInt8(v & 0x7F)])
        default: out.writeBytes([UInt8(v >> 22 & 0x7F | 0x80), UInt8(v >> 15 & 0x7F | 0x80), UInt8(v >> 8 & 0x7F | 0x80), UInt8(v & 0xFF)])
        }
    }
}
