/// Base64 (RFC 4648 §4, the standard alphabet with `=` padding) for the handshake keys and, in the transport,
/// proxy credentials. Written out here so the engine imports nothing but NIOCore, Crypto and its C targets: the
/// inputs are a few dozen bytes, so a plain loop is as fast as a platform library's, without its weight.
package enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    package static func encode<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let input = Array(bytes)
        var out: [UInt8] = []
        out.reserveCapacity((input.count + 2) / 3 * 4)
        var index = 0
        while index < input.count {
            let available = min(3, input.count - index)
            let b0 = UInt32(input[index])
            let b1 = available > 1 ? UInt32(input[index + 1]) : 0
            let b2 = available > 2 ? UInt32(input[index + 2]) : 0
            let group = b0 << 16 | b1 << 8 | b2
            out.append(alphabet[Int(group >> 18 & 0x3F)])
            out.append(alphabet[Int(group >> 12 & 0x3F)])
            out.append(available > 1 ? alphabet[Int(group >> 6 & 0x3F)] : UInt8(ascii: "="))
            out.append(available > 2 ? alphabet[Int(group & 0x3F)] : UInt8(ascii: "="))
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The bytes `string` encodes, or nil unless it is canonical-length base64: a multiple of four characters
    /// from the alphabet, with `=` only as the last one or two. Bits left over in the last group are ignored
    /// (RFC 4648 §3.5 lets decoders accept them, and the platform decoder used here before did).
    package static func decode(_ string: String) -> [UInt8]? {
        let input = Array(string.utf8)
        guard input.count % 4 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(input.count / 4 * 3)
        var group = 0
        while group < input.count {
            let isLast = group + 4 == input.count
            let padding = isLast ? input[(group + 2)...].reversed().prefix { $0 == UInt8(ascii: "=") }.count : 0
            var bits: UInt32 = 0
            for offset in 0..<4 {
                let value: UInt32
                if offset >= 4 - padding {
                    value = 0
                } else if let sextet = sextet(of: input[group + offset]) {
                    value = sextet
                } else {
                    return nil
                }
                bits = bits << 6 | value
            }
            out.append(UInt8(truncatingIfNeeded: bits >> 16))
            if padding < 2 { out.append(UInt8(truncatingIfNeeded: bits >> 8)) }
            if padding < 1 { out.append(UInt8(truncatingIfNeeded: bits)) }
            group += 4
        }
        return out
    }

    /// `bytes` in base64url without padding (RFC 4648 §5).
    package static func encodeURLSafe<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        String(encode(bytes).compactMap { character -> Character? in
            switch character {
            case "+": return "-"
            case "/": return "_"
            case "=": return nil
            default: return character
            }
        })
    }

    /// The bytes `string` encodes in base64url without padding (RFC 4648 §5, the form JWTs and Kubernetes'
    /// subprotocol tokens use), or nil when it has a character outside that alphabet or an impossible length.
    package static func decodeURLSafe(_ string: String) -> [UInt8]? {
        var input = Array(string.utf8)
        guard input.count % 4 != 1 else { return nil }
        for index in input.indices {
            switch input[index] {
            case UInt8(ascii: "-"): input[index] = UInt8(ascii: "+")
            case UInt8(ascii: "_"): input[index] = UInt8(ascii: "/")
            case UInt8(ascii: "+"), UInt8(ascii: "/"), UInt8(ascii: "="): return nil
            default: break
            }
        }
        while input.count % 4 != 0 { input.append(UInt8(ascii: "=")) }
        return decode(String(decoding: input, as: UTF8.self))
    }

    private static func sextet(of character: UInt8) -> UInt32? {
        switch character {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return UInt32(character - UInt8(ascii: "A"))
        case UInt8(ascii: "a")...UInt8(ascii: "z"): return UInt32(character - UInt8(ascii: "a")) + 26
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return UInt32(character - UInt8(ascii: "0")) + 52
        case UInt8(ascii: "+"): return 62
        case UInt8(ascii: "/"): return 63
        default: return nil
        }
    }
}
