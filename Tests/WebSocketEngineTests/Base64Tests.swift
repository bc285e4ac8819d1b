import Testing
@testable import WebSocketEngine

/// The engine's own base64 (it replaced Foundation's) against RFC 4648 §10, the §1.3 handshake key, and the
/// inputs a strict decoder must refuse.
@Suite struct Base64Tests {
    /// RFC 4648 §10: BASE64("") = "", ("f") = "Zg==", … ("foobar") = "Zm9vYmFy".
    static let rfc4648Vectors: [(String, String)] = [
        ("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="), ("fooba", "Zm9vYmE="), ("foobar", "Zm9vYmFy"),
    ]

    @Test(arguments: rfc4648Vectors)
    func encodesTheRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.encode(Array(plain.utf8)) == encoded)
    }

    @Test(arguments: rfc4648Vectors)
    func decodesTheRFC4648Vectors(plain: String, encoded: String) {
        #expect(Base64.decode(encoded) == Array(plain.utf8))
    }

    @Test func usesTheStandardAlphabetForEverySextet() {
        // 0x00 0x10 0x83 0x10 0x51 0x87 … encodes to the alphabet in order; checks the high indices (+ and /) too.
        var bytes: [UInt8] = []
        for group in stride(from: 0, to: 64, by: 4) {
            let bits = UInt32(group) << 18 | UInt32(group + 1) << 12 | UInt32(group + 2) << 6 | UInt32(group + 3)
            bytes += [UInt8(bits >> 16 & 0xFF), UInt8(bits >> 8 & 0xFF), UInt8(bits & 0xFF)]
        }
        let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        #expect(Base64.encode(bytes) == alphabet)
        #expect(Base64.decode(alphabet) == bytes)
    }

    @Test func roundTripsEveryLengthAndByteValue() {
        let bytes = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
        for length in 0...bytes.count {
            let prefix = Array(bytes.prefix(length))
            #expect(Base64.decode(Base64.encode(prefix)) == prefix, "length \(length)")
        }
    }

    @Test func theSampleNonceOfRFC6455() {
        // §4.1's example key is the base64 of the 16 bytes 0x01 … 0x10.
        #expect(Base64.encode(Array(1...16)) == "AQIDBAUGBwgJCgsMDQ4PEA==")
        #expect(Base64.decode("dGhlIHNhbXBsZSBub25jZQ==") == Array("the sample nonce".utf8))
    }

    @Test(arguments: ["Zg", "Zg=", "Zm9vY", "Z===", "====", "Zg==Zg==", "Zm=v", "Zg=A", "Zm9v\n", "Zm9-", "Zm9_", " Zm9v", "Zm9vYmFy=", "Zm\u{e9}v"])
    func refusesWhatIsNotCanonicalBase64(_ input: String) {
        #expect(Base64.decode(input) == nil)
    }
}
