import Crypto

/// Nonces that need no server state: `timestamp.mac`, where mac = HMAC-SHA256(secret, timestamp) — any relay
/// node holding the secret can check a nonce another issued, and a nonce expires after `lifetime` seconds.
public struct NonceIssuer: Sendable {
    public enum Check: Sendable, Equatable {
        case fresh
        case expired
        case forged
    }

    private let key: SymmetricKey
    public let lifetime: UInt64

    public init(secret: [UInt8], lifetime: UInt64 = 300) {
        key = SymmetricKey(data: secret)
        self.lifetime = lifetime
    }

    /// A nonce issued at `now` (seconds).
    public func make(now: UInt64) -> String {
        "\(now).\(mac(String(now)))"
    }

    public func check(_ nonce: String, now: UInt64) -> Check {
        let parts = nonce.split(separator: ".", maxSplits: 1)
        guard parts.count == 2, let issued = UInt64(parts[0]), String(parts[1]) == mac(String(parts[0])) else { return .forged }
        return issued <= now && now - issued <= lifetime ? .fresh : .expired
    }

    private func mac(_ text: String) -> String {
        Digest.hex(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: key)).prefix(32).description
    }
}
