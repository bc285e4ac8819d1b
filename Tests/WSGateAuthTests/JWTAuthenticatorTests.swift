import Foundation
import Testing
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport
@testable import WSGateAuth

/// The `jwt` method against tokens PyJWT minted (Fixtures): each good one admits with its claims, each bad one
/// is refused with its reason — at the fixtures' instant, so the outcome never depends on today's date.
@Suite struct JWTAuthenticatorTests {
    static let fixtures = Fixtures.shared
    static let checks = JWTAuthenticator.Checks(issuers: [fixtures.issuer], audiences: [fixtures.audience], leeway: 30)

    static func hmac(_ algorithms: [String] = ["HS256", "HS384", "HS512"]) async throws -> JWTAuthenticator {
        try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: Array(fixtures.secret.utf8), hmacAlgorithms: algorithms),
                                        checks: checks)
    }

    static func publicKeys() async throws -> JWTAuthenticator {
        try await JWTAuthenticator.make(keys: JWTKeySource(publicKeysPEM: [fixtures.rsa_public_pem, fixtures.ec_public_pem,
                                                                           fixtures.ed25519_public_pem]), checks: checks)
    }

    static func check(_ authenticator: JWTAuthenticator, _ name: String, now: Double = fixtures.now) -> AuthenticationResult {
        authenticator.authenticate(PresentedCredentials(token: PresentedToken(token: fixtures.token(name), source: .authorizationHeader)),
                                   now: now)
    }

    static func refusal(_ result: AuthenticationResult) -> String? {
        if case .refused(let why) = result { return why }
        return nil
    }

    @Test(arguments: ["hs256_valid", "hs384_valid", "hs512_valid", "hs256_audience_list", "hs256_expired_within_leeway"])
    func aGoodHMACTokenAdmitsWithItsClaims(name: String) async throws {
        guard case .authenticated(let identity) = Self.check(try await Self.hmac(), name) else {
            Issue.record("\(name) was not admitted: \(Self.check(try await Self.hmac(), name))")
            return
        }
        #expect(identity.method == "jwt" && identity.subject == "alice")
        #expect(identity.claims["scope"] == .string("chat vnc") && identity.claims["iss"] == .string(Self.fixtures.issuer))
    }

    @Test(arguments: ["rs256_valid", "es256_valid", "eddsa_valid"])
    func aGoodPublicKeyTokenAdmits(name: String) async throws {
        let result = Self.check(try await Self.publicKeys(), name)
        guard case .authenticated(let identity) = result else { Issue.record("\(name): \(result)"); return }
        #expect(identity.subject == "alice")
    }

    @Test(arguments: [
        ("hs256_expired", "expired"), ("hs256_not_yet_valid", "not valid yet"), ("hs256_wrong_issuer", "issuer"),
        ("hs256_wrong_audience", "audience"), ("hs256_forged", "signature"), ("alg_none", "algorithm none"),
        ("rs256_valid", "algorithm RS256 is not accepted"),
    ])
    func aBadTokenIsRefusedWithItsReason(name: String, reason: String) async throws {
        let why = try #require(Self.refusal(Self.check(try await Self.hmac(), name)))
        #expect(why.contains(reason), "\(name): \(why)")
        #expect(!why.contains(Self.fixtures.token(name)), "the reason quotes the token")
    }

    @Test func anRSAPublicKeyUsedAsAnHMACSecretFindsNoKey() async throws {
        let why = try #require(Self.refusal(Self.check(try await Self.publicKeys(), "rs256_public_key_as_hs256_secret")))
        #expect(why.contains("HS256 is not accepted"))
    }

    @Test func theLeewayIsTheOnlySlackOnExpiry() async throws {
        let authenticator = try await Self.hmac()
        // Expired 10 s before `now`: admitted with 30 s of leeway, refused 21 s later.
        #expect(Self.refusal(Self.check(authenticator, "hs256_expired_within_leeway")) == nil)
        #expect(Self.refusal(Self.check(authenticator, "hs256_expired_within_leeway", now: Self.fixtures.now + 21)) == "the token expired")
    }

    @Test func aRequiredExpiryRefusesATokenWithout() async throws {
        #expect(Self.refusal(Self.check(try await Self.hmac(), "hs256_no_exp")) == nil)
        var strict = Self.checks
        strict.requireExpiry = true
        let authenticator = try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: Array(Self.fixtures.secret.utf8)), checks: strict)
        #expect(Self.refusal(Self.check(authenticator, "hs256_no_exp")) == "the token has no exp")
    }

    @Test func anAlgorithmListNarrowsTheHMACFamily() async throws {
        let only256 = try await Self.hmac(["HS256"])
        #expect(Self.refusal(Self.check(only256, "hs256_valid")) == nil)
        #expect(Self.refusal(Self.check(only256, "hs512_valid"))?.contains("HS512 is not accepted") == true)
    }

    @Test func aJWKSKeyIsChosenByTheTokensKid() async throws {
        let authenticator = try await JWTAuthenticator.make(keys: JWTKeySource(jwksJSON: Self.fixtures.jwks), checks: Self.checks)
        #expect(authenticator.algorithms == ["ES256"])
        #expect(Self.refusal(Self.check(authenticator, "es256_kid_k1")) == nil)
        #expect(Self.refusal(Self.check(authenticator, "es256_kid_unknown"))?.contains("no key for the token's kid") == true)
    }

    @Test func whatIsNotAJWTIsRefusedAtOnce() async throws {
        let authenticator = try await Self.hmac()
        for token in ["not-a-jwt", "a.b", "a.b.c.d", "!!!.e30.sig", "e30.e30.", String(repeating: "a.", count: 2000)] {
            let result = authenticator.authenticate(PresentedCredentials(token: PresentedToken(token: token, source: .query)),
                                                    now: Self.fixtures.now)
            #expect(Self.refusal(result) != nil, "\(token.prefix(20)) was admitted")
        }
        #expect(authenticator.authenticate(PresentedCredentials(), now: 0) == .notPresented)
    }

    @Test func aKeyTheLibraryCannotReadIsAStartupError() async {
        await #expect(throws: JWTKeyError.self) {
            _ = try await JWTAuthenticator.make(keys: JWTKeySource(publicKeysPEM: ["-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"]))
        }
        await #expect(throws: JWTKeyError.self) { _ = try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: [])) }
        await #expect(throws: JWTKeyError.self) { _ = try await JWTAuthenticator.make(keys: JWTKeySource(jwksJSON: "{\"keys\": 1}")) }
    }

    /// RFC 7518 §3.2: an HMAC key at least as long as the hash. A 32-byte secret serves HS256 only; one shorter
    /// than every algorithm asked for is refused at start (jwt-kit would assert on it).
    @Test func theSecretsLengthDecidesTheHMACAlgorithms() async throws {
        let secret32 = [UInt8](repeating: 0x61, count: 32)
        let only256 = try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: secret32))
        #expect(only256.algorithms == ["HS256"])
        let all = try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: [UInt8](repeating: 0x61, count: 64)))
        #expect(all.algorithms == ["HS256", "HS384", "HS512"])
        await #expect(throws: JWTKeyError.self) {
            _ = try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: [UInt8](repeating: 0x61, count: 31)))
        }
        await #expect(throws: JWTKeyError.self) {
            _ = try await JWTAuthenticator.make(keys: JWTKeySource(hmacSecret: secret32, hmacAlgorithms: ["HS512"]))
        }
    }

    @Test func aSecretFileLosesOnlyItsTrailingWhitespace() {
        #expect(JWTKeySource.secret(fromFileContents: Array(" s3cret \r\n\n".utf8)) == Array(" s3cret".utf8))
    }

    @Test func aVerifiedTokenIsRememberedButItsTimesAreCheckedEachTime() async throws {
        let authenticator = try await Self.hmac()
        #expect(Self.refusal(Self.check(authenticator, "hs256_valid")) == nil)
        #expect(authenticator.verified.count == 1)
        // Two hours on, the remembered token has expired like any other.
        #expect(Self.refusal(Self.check(authenticator, "hs256_valid", now: Self.fixtures.now + 7200)) == "the token expired")
        // A forged one is never remembered.
        _ = Self.check(authenticator, "hs256_forged")
        _ = Self.check(authenticator, "hs256_forged")
        #expect(authenticator.verified.count == 1)
    }

    @Test func theCacheStartsOverWhenFull() {
        let cache = VerifiedTokenCache(capacity: 3)
        let claims = try! JSONDecoder().decode(JWTClaimSet.self, from: Data("{\"sub\":\"a\"}".utf8))
        for i in 0..<5 { cache["t\(i)"] = (claims, "HS256") }
        #expect(cache.count <= 3 && cache["t4"] != nil)
    }
}
