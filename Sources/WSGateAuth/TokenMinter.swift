#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JWTKit
import WebSocketAPI

/// Mints HS256 test tokens for `wsgate token` (signing is jwt-kit's): what a client of a service protected with
/// `--jwt-secret-file` presents.
public enum TokenMinter {
    struct Payload: JWTPayload {
        var claims: [String: ClaimValue]
        func encode(to encoder: any Encoder) throws { try claims.encode(to: encoder) }
        init(claims: [String: ClaimValue]) { self.claims = claims }
        init(from decoder: any Decoder) throws { claims = try [String: ClaimValue](from: decoder) }
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    /// A token with `sub`, `iat`, `exp` (`ttl` seconds from `now`) and `extra` claims, signed with `secret`.
    public static func hs256(secret: [UInt8], subject: String, ttl: Double, now: Double,
                             extra: [String: ClaimValue] = [:]) async throws -> String {
        var claims = extra
        claims["sub"] = .string(subject)
        claims["iat"] = .number(now.rounded(.down))
        claims["exp"] = .number((now + ttl).rounded(.down))
        let keys = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return try await keys.sign(Payload(claims: claims))
    }
}
