import Crypto

/// hixie-76's key challenge (draft-hixie-thewebsocketprotocol-76 §1.3, §4.1, §5.2).
///
/// Each of `Sec-WebSocket-Key1` and `Sec-WebSocket-Key2` hides a 32-bit number: the key's digits read as one
/// decimal integer, divided by the number of spaces in the key (which must divide it exactly). The server
/// answers with MD5(number1 as 4 big-endian bytes ‖ number2 ‖ the 8-byte key3 that follows the request head).
package enum HixieKey {
    package enum Problem: Error, Hashable, Sendable, CustomStringConvertible {
        case noSpaces
        case noDigits
        case tooLarge
        case notAMultiple(digits: UInt64, spaces: Int)

        package var description: String {
            switch self {
            case .noSpaces: return "has no spaces"
            case .noDigits: return "has no digits"
            case .tooLarge: return "encodes a number larger than 32 bits"
            case .notAMultiple(let digits, let spaces): return "digits \(digits) are not a multiple of its \(spaces) spaces"
            }
        }
    }

    /// The number a key encodes.
    package static func number(of key: String) -> Result<UInt32, Problem> {
        var digits: UInt64 = 0
        var sawDigit = false
        var spaces = 0
        for byte in key.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                sawDigit = true
                let (times10, o1) = digits.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(byte - UInt8(ascii: "0")))
                guard !o1, !o2 else { return .failure(.tooLarge) }
                digits = sum
            case UInt8(ascii: " "):
                spaces += 1
            default:
                continue
            }
        }
        guard sawDigit else { return .failure(.noDigits) }
        guard spaces > 0 else { return .failure(.noSpaces) }
        guard digits % UInt64(spaces) == 0 else { return .failure(.notAMultiple(digits: digits, spaces: spaces)) }
        let number = digits / UInt64(spaces)
        guard number <= UInt64(UInt32.max) else { return .failure(.tooLarge) }
        return .success(UInt32(number))
    }

    /// The 16-byte answer to the challenge.
    package static func answer(number1: UInt32, number2: UInt32, key3: some Sequence<UInt8>) -> [UInt8] {
        var challenge: [UInt8] = []
        challenge.reserveCapacity(16)
        for n in [number1, number2] {
            challenge += [UInt8(n >> 24), UInt8(truncatingIfNeeded: n >> 16), UInt8(truncatingIfNeeded: n >> 8), UInt8(truncatingIfNeeded: n)]
        }
        challenge += key3
        return Array(Insecure.MD5.hash(data: challenge))
    }

    /// A key as a draft-76 client makes one (§4.1 step 16–21): a random number times 1–12 spaces, with 1–12
    /// random non-digit characters and the spaces inserted at random places (never first or last).
    package static func make(using generator: inout some RandomNumberGenerator) -> (key: String, number: UInt32) {
        let spaces = Int.random(in: 1...12, using: &generator)
        let number = UInt32.random(in: 0...(UInt32.max / UInt32(spaces)), using: &generator)
        var key = Array(String(UInt64(number) * UInt64(spaces)).unicodeScalars)
        let fillers = Array((0x21...0x2F).compactMap(Unicode.Scalar.init) + (0x3A...0x7E).compactMap(Unicode.Scalar.init))
        for _ in 0..<Int.random(in: 1...12, using: &generator) {
            key.insert(fillers.randomElement(using: &generator)!, at: Int.random(in: 0...key.count, using: &generator))
        }
        for _ in 0..<spaces {
            key.insert(" ", at: Int.random(in: 1...(key.count - 1), using: &generator))
        }
        var out = String.UnicodeScalarView()
        out.append(contentsOf: key)
        return (String(out), number)
    }
}
