import Crypto

/// The `Sec-WebSocket-Accept` computation of RFC 6455 §4.2.2 step 5.4.
package enum AcceptKey {
    package static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// base64(SHA-1(key + GUID)).
    package static func compute(forKey key: String) -> String {
        Base64.encode(Insecure.SHA1.hash(data: Array((key + guid).utf8)))
    }

    /// Whether `key` is the base64 of exactly 16 bytes, as §4.1 requires of clients.
    package static func isValidKey(_ key: String) -> Bool {
        key.utf8.count == 24 && Base64.decode(key)?.count == 16
    }

    /// A fresh random client key.
    package static func makeClientKey<G: RandomNumberGenerator>(using generator: inout G) -> String {
        Base64.encode((0..<16).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
}
