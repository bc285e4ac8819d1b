import NIOCore

/// An AMF0 value (Adobe's AMF0 spec), with the AMF3 values WSR uses reached through AMF0's "switch to AMF3"
/// marker. Decoding is bounded: nesting depth, element count and every length against the bytes present, so an
/// "AMF bomb" (a huge announced count, deep nesting) is refused, not allocated.
public indirect enum AMFValue: Sendable, Equatable {
    case number(Double)
    case boolean(Bool)
    case string(String)
    /// Properties in order.
    case object([(String, AMFValue)])
    case null
    case undefined
    case ecmaArray([(String, AMFValue)])
    case strictArray([AMFValue])
    case date(Double)
    /// AMF3 values (after 0x11).
    case amf3Integer(Int32)
    case amf3String(String)
    case amf3ByteArray([UInt8])

    public static func == (a: AMFValue, b: AMFValue) -> Bool {
        switch (a, b) {
        case (.number(let x), .number(let y)), (.date(let x), .date(let y)): return x == y || (x.isNaN && y.isNaN)
        case (.boolean(let x), .boolean(let y)): return x == y
        case (.string(let x), .string(let y)), (.amf3String(let x), .amf3String(let y)): return x == y
        case (.object(let x), .object(let y)), (.ecmaArray(let x), .ecmaArray(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        case (.null, .null), (.undefined, .undefined): return true
        case (.strictArray(let x), .strictArray(let y)): return x == y
        case (.amf3Integer(let x), .amf3Integer(let y)): return x == y
        case (.amf3ByteArray(let x), .amf3ByteArray(let y)): return x == y
        default: return false
        }
    }

    /// A property of an object or ECMA array.
    public subscript(_ key: String) -> AMFValue? {
        switch self {
        case .object(let p), .ecmaArray(let p): return p.first { $0.0 == key }?.1
        default: return nil
        }
    }

    public var stringValue: String? {
        switch self {
        case .string(let s), .amf3String(let s): return s
        default: return nil
        }
    }
}

public enum AMFError: Error, Sendable, Equatable {
    case truncated
    case unsupportedMarker(UInt8)
    case tooDeep
    case tooManyElements
}

/// Reads AMF0 values (and AMF3 after the switch marker).
public struct AMFDecoder {
    public struct Limits: Sendable {
        public var maxDepth = 16
        public var maxElements = 4096
        public init() {}
    }

    private var buffer: ByteBuffer
    private let limits: Limits
    private var elements = 0
    /// AMF3 string references (AMF3 §1.3.2) for the message.
    private var amf3Strings: [String] = []

    public init(_ buffer: ByteBuffer, limits: Limits = .init()) {
        self.buffer = buffer
        self.limits = limits
    }

    public var isAtEnd: Bool { buffer.readableBytes == 0 }

    /// Every value until the end of the buffer.
    public mutating func decodeAll() throws(AMFError) -> [AMFValue] {
        var out: [AMFValue] = []
        while !isAtEnd { out.append(try decode()) }
        return out
    }

    public mutating func decode() throws(AMFError) -> AMFValue {
        try value(depth: 0)
    }

    private mutating func count() throws(AMFError) {
        elements += 1
        guard elements <= limits.maxElements else { throw .tooManyElements }
    }

    private mutating func value(depth: Int) throws(AMFError) -> AMFValue {
        guard depth <= limits.maxDepth else { throw .tooDeep }
        try count()
        guard let marker = buffer.readInteger(as: UInt8.self) else { throw .truncated }
        switch marker {
        case 0x00: return .number(try double())
        case 0x01:
            guard let b = buffer.readInteger(as: UInt8.self) else { throw .truncated }
            return .boolean(b != 0)
        case 0x02: return .string(try string(length: Int(try u16())))
        case 0x03: return .object(try properties(depth: depth))
        case 0x05: return .null
        case 0x06: return .undefined
        case 0x08:
            _ = try u32() // the count is a hint only; the properties end with the object-end marker
            return .ecmaArray(try properties(depth: depth))
        case 0x0A:
            let n = Int(try u32())
            guard n <= buffer.readableBytes else { throw .truncated } // each value takes at least one byte
            var items: [AMFValue] = []
            for _ in 0..<n { items.append(try value(depth: depth + 1)) }
            return .strictArray(items)
        case 0x0B:
            let d = try double()
            guard buffer.readInteger(as: Int16.self) != nil else { throw .truncated }
            return .date(d)
        case 0x0C: return .string(try string(length: Int(try u32())))
        case 0x11: return try amf3(depth: depth)
        default: throw .unsupportedMarker(marker)
        }
    }

    private mutating func properties(depth: Int) throws(AMFError) -> [(String, AMFValue)] {
        var out: [(String, AMFValue)] = []
        while true {
            let key = try string(length: Int(try u16()))
            if key.isEmpty {
                guard let end = buffer.readInteger(as: UInt8.self) else { throw .truncated }
                guard end == 0x09 else { throw .unsupportedMarker(end) }
                return out
            }
            try count()
            out.append((key, try value(depth: depth + 1)))
        }
    }

    private mutating func amf3(depth: Int) throws(AMFError) -> AMFValue {
        guard let marker = buffer.readInteger(as: UInt8.self) else { throw .truncated }
        switch marker {
        case 0x00: return .undefined
        case 0x01: return .null
        case 0x02: return .boolean(false)
        case 0x03: return .boolean(true)
        case 0x04:
            let u = try u29()
            return .amf3Integer(u & 0x1000_0000 != 0 ? Int32(bitPattern: u | 0xE000_0000) : Int32(u))
        case 0x05: return .number(try double())
        case 0x06: return .amf3String(try amf3String())
        case 0x0C:
            let header = try u29()
            guard header & 1 == 1 else { throw .unsupportedMarker(marker) } // references to earlier objects: not used by WSR
            let length = Int(header >> 1)
            guard let bytes = buffer.readBytes(length: length) else { throw .truncated }
            return .amf3ByteArray(bytes)
        default: throw .unsupportedMarker(marker)
        }
    }

    private mutating func amf3String() throws(AMFError) -> String {
        let header = try u29()
        if header & 1 == 0 {
            let index = Int(header >> 1)
            guard index < amf3Strings.count else { throw .truncated }
            return amf3Strings[index]
        }
        let s = try string(length: Int(header >> 1))
        if !s.isEmpty { amf3Strings.append(s) }
        return s
    }

    /// AMF3's variable-length 29-bit integer.
    private mutating func u29() throws(AMFError) -> UInt32 {
        var value: UInt32 = 0
        for i in 0..<4 {
            guard let b = buffer.readInteger(as: UInt8.self) else { throw .truncated }
            if i == 3 { return value << 8 | UInt32(b) }
            value = value << 7 | UInt32(b & 0x7F)
            if b & 0x80 == 0 { return value }
        }
        return value
    }

    private mutating func u16() throws(AMFError) -> UInt16 {
        guard let v = buffer.readInteger(as: UInt16.self) else { throw .truncated }
        return v
    }

    private mutating func u32() throws(AMFError) -> UInt32 {
        guard let v = buffer.readInteger(as: UInt32.self) else { throw .truncated }
        return v
    }

    private mutating func double() throws(AMFError) -> Double {
        guard let bits = buffer.readInteger(as: UInt64.self) else { throw .truncated }
        return Double(bitPattern: bits)
    }

    private mutating func string(length: Int) throws(AMFError) -> String {
        guard let bytes = buffer.readBytes(length: length) else { throw .truncated }
        return String(decoding: bytes, as: UTF8.self)
    }
}

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
