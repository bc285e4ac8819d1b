import NIOCore

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
