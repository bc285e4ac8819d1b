#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JWTKit
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// The `jwt` method: a bearer token that is a JWS-signed JWT (RFC 7519) from a key the service trusts.
///
/// jwt-kit does the cryptography, the key formats and the claim types; this type only orders the checks so
/// that nothing the client wrote is trusted before the signature is: the header is read for `alg` and `kid`,
/// the signature is verified with a key configured for exactly that algorithm (so `alg: none` and an RSA
/// public key used as an HMAC secret find no key), and only then is the payload decoded and its `exp`, `nbf`,
/// `iss` and `aud` checked, with `leeway` seconds of clock skew.
///
/// Verification is synchronous: jwt-kit's key collection is an actor, so the keys are resolved into their
/// algorithms once, when the authenticator is made (`JWTAuthenticator.make`), and the handshake then calls
/// the algorithms directly on its event loop.
public struct JWTAuthenticator: HandshakeAuthenticator {
    /// The claim checks.
    public struct Checks: Sendable, Hashable {
        /// Accepted `iss` values; nil: any issuer (and none).
        public var issuers: [String]?
        /// `aud` must name one of these; nil: not checked.
        public var audiences: [String]?
        /// Seconds of clock skew allowed on `exp` and `nbf`.
        public var leeway: Double
        /// Whether a token without `exp` is refused (a token without one never expires).
        public var requireExpiry: Bool

        public init(issuers: [String]? = nil, audiences: [String]? = nil, leeway: Double = 30, requireExpiry: Bool = false) {
            self.issuers = issuers
            self.audiences = audiences
            self.leeway = leeway
            self.requireExpiry = requireExpiry
        }
    }

    /// A key resolved into its algorithm; `kid` as configured (nil matches any token's `kid`).
    struct Verifier: Sendable {
        var kid: String?
        var algorithm: any JWTAlgorithm
    }

    public var method: String { "jwt" }
    let verifiers: [Verifier]
    public let checks: Checks
    /// One decoder for every handshake (making one costs more than decoding a JWT header).
    let decoder: any JWTJSONDecoder = JSONDecoder.defaultForJWT
    /// Tokens whose signature verified, with their claims: a client that reconnects with the same token skips
    /// the cryptography and the JSON (the claims' times are still checked at every handshake).
    let verified = VerifiedTokenCache()

    init(verifiers: [Verifier], checks: Checks) {
        self.verifiers = verifiers
        self.checks = checks
    }

    /// The algorithms this authenticator accepts (`HS256`, `RS256`, …), for the startup log.
    public var algorithms: [String] { Array(Set(verifiers.map(\.algorithm.name))).sorted() }

    public func authenticate(_ presented: PresentedCredentials, now: Double) -> AuthenticationResult {
        guard let token = presented.token?.token else { return .notPresented }
        if let known = verified[token] { return admit(known.claims, alg: known.alg, now: now) }
        let parts = token.utf8.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        guard parts.count == 3 else { return .refused("the token is not a JWT (header.payload.signature)") }
        guard let headerBytes = Base64.decodeURLSafe(String(decoding: parts[0], as: UTF8.self)),
              let header = try? decoder.decode(JWTHeader.self, from: Data(headerBytes)) else {
            return .refused("the JWT header is not base64url JSON")
        }
        guard let alg = header.alg else { return .refused("the JWT header has no alg") }
        let candidates = verifiers.filter { $0.algorithm.name == alg && ($0.kid == nil || $0.kid == header.kid) }
        guard !candidates.isEmpty else {
            return .refused(header.kid.map { _ in "no key for the token's kid and algorithm \(alg)" } ?? "algorithm \(alg) is not accepted")
        }
        guard let signature = Base64.decodeURLSafe(String(decoding: parts[2], as: UTF8.self)) else {
            return .refused("the JWT signature is not base64url")
        }
        let signingInput = Array(token.utf8.prefix(parts[0].count + 1 + parts[1].count))
        guard candidates.contains(where: { (try? $0.algorithm.verify(signature, signs: signingInput)) == true }) else {
            return .refused("the token's signature does not verify")
        }
        guard let payloadBytes = Base64.decodeURLSafe(String(decoding: parts[1], as: UTF8.self)),
              let claims = try? decoder.decode(JWTClaimSet.self, from: Data(payloadBytes)) else {
            return .refused("the JWT payload is not a JSON object of claims")
        }
        verified[token] = (claims, alg)
        return admit(claims, alg: alg, now: now)
    }

    /// The identity of verified claims, if they hold at `now`.
    func admit(_ claims: JWTClaimSet, alg: String, now: Double) -> AuthenticationResult {
        if let why = refusal(of: claims, now: now) { return .refused(why) }
        var identityClaims = claims.all
        identityClaims["alg"] = .string(alg)
        return .authenticated(WebSocketIdentity(method: method, subject: claims.sub?.value ?? "", claims: identityClaims))
    }

    /// Why the claims are not good now, or nil.
    func refusal(of claims: JWTClaimSet, now: Double) -> String? {
        if let exp = claims.exp {
            do { try exp.verifyNotExpired(currentDate: Date(timeIntervalSince1970: now - checks.leeway)) } catch {
                return "the token expired"
            }
        } else if checks.requireExpiry {
            return "the token has no exp"
        }
        if let nbf = claims.nbf {
            do { try nbf.verifyNotBefore(currentDate: Date(timeIntervalSince1970: now + checks.leeway)) } catch {
                return "the token is not valid yet (nbf)"
            }
        }
        if let issuers = checks.issuers {
            guard let iss = claims.iss?.value, issuers.contains(iss) else { return "the token's issuer is not accepted" }
        }
        if let audiences = checks.audiences {
            guard let aud = claims.aud, audiences.contains(where: { (try? aud.verifyIntendedAudience(includes: $0)) != nil }) else {
                return "the token is not meant for this audience"
            }
        }
        return nil
    }
}
