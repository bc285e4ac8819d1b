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
