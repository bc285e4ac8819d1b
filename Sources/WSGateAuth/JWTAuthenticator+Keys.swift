#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JWTKit

/// The keys a `jwt` method trusts, as the configuration names them.
public struct JWTKeySource: Sendable, Hashable {
    /// An HMAC secret (the file's bytes, whitespace at the end trimmed) for `hmacAlgorithms`.
    public var hmacSecret: [UInt8]?
    public var hmacAlgorithms: [String]
    /// PEM public keys: RSA (RS256/384/512), EC P-256/P-384/P-521 (ES256/384/512) or Ed25519 (EdDSA).
    public var publicKeysPEM: [String]
    /// A JSON Web Key Set (RFC 7517 §5), its keys selected by the token's `kid`.
    public var jwksJSON: String?

    public init(hmacSecret: [UInt8]? = nil, hmacAlgorithms: [String] = ["HS256", "HS384", "HS512"],
                publicKeysPEM: [String] = [], jwksJSON: String? = nil) {
        self.hmacSecret = hmacSecret
        self.hmacAlgorithms = hmacAlgorithms
        self.publicKeysPEM = publicKeysPEM
        self.jwksJSON = jwksJSON
    }

    /// A secret file's bytes with the whitespace at the end trimmed (a newline an editor added is not part of
    /// the secret; whitespace at the start is kept, it could be).
    public static func secret(fromFile path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { secret(fromFileContents: Array($0)) }
    }

    /// `bytes` with the whitespace at the end trimmed.
    public static func secret(fromFileContents bytes: [UInt8]) -> [UInt8] {
        var end = bytes.endIndex
        while end > bytes.startIndex, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[end - 1]) { end -= 1 }
        return Array(bytes[..<end])
    }
}

/// A key the configuration names that jwt-kit could not read.
public struct JWTKeyError: Error, CustomStringConvertible {
    public var description: String
}

extension JWTAuthenticator {
    static let hmacDigests: [String: DigestAlgorithm] = ["HS256": .sha256, "HS384": .sha384, "HS512": .sha512]
    /// RFC 7518 §3.2: an HMAC key at least as long as the hash output (jwt-kit asserts it, and says it will
    /// become a precondition).
    static let hmacMinimumSecret: [String: Int] = ["HS256": 32, "HS384": 48, "HS512": 64]

    /// Resolves every key of `keys` into the algorithm that verifies it (the one step that needs jwt-kit's
    /// actor, done once, before the listener starts).
    public static func make(keys: JWTKeySource, checks: Checks = .init()) async throws -> JWTAuthenticator {
        var verifiers: [Verifier] = []
        if let secret = keys.hmacSecret {
            guard !secret.isEmpty else { throw JWTKeyError(description: "the HMAC secret is empty") }
            // Algorithms whose hash is longer than the secret are not accepted with it (RFC 7518 §3.2); a secret
            // too short for every algorithm asked for is refused outright.
            let usable = keys.hmacAlgorithms.filter { secret.count >= hmacMinimumSecret[$0] ?? 0 }
            guard !usable.isEmpty else {
                let needed = keys.hmacAlgorithms.compactMap { name in hmacMinimumSecret[name].map { "\(name) \($0)" } }
                throw JWTKeyError(description: "the HMAC secret has \(secret.count) bytes; RFC 7518 §3.2 asks for at least the "
                                  + "hash's length (\(needed.joined(separator: ", ")) bytes), e.g. head -c 48 /dev/urandom | base64")
            }
            for name in usable {
                guard let digest = hmacDigests[name] else {
                    throw JWTKeyError(description: "\(name) is not an HMAC algorithm (HS256, HS384, HS512)")
                }
                let collection = await JWTKeyCollection().add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
                verifiers.append(Verifier(kid: nil, algorithm: try await collection.getKey()))
            }
        }
        for (index, pem) in keys.publicKeysPEM.enumerated() {
            verifiers += try await publicKeyVerifiers(pem: pem, index: index)
        }
        if let json = keys.jwksJSON {
            verifiers += try await jwksVerifiers(json: json)
        }
        guard !verifiers.isEmpty else { throw JWTKeyError(description: "a jwt method needs a secret, a public key or a JWKS") }
        return JWTAuthenticator(verifiers: verifiers, checks: checks)
    }

    /// The algorithms of one PEM public key, whichever type it is.
    static func publicKeyVerifiers(pem: String, index: Int) async throws -> [Verifier] {
        let collection = JWTKeyCollection()
        var out: [Verifier] = []
        if let rsa = try? Insecure.RSA.PublicKey(pem: pem) {
            for (name, digest) in [("rs256", DigestAlgorithm.sha256), ("rs384", .sha384), ("rs512", .sha512)] {
                await collection.add(rsa: rsa, digestAlgorithm: digest, kid: JWKIdentifier(string: "\(index)-\(name)"))
                out.append(Verifier(kid: nil, algorithm: try await collection.getKey(for: JWKIdentifier(string: "\(index)-\(name)"))))
            }
        } else if let ec = try? ES256PublicKey(pem: pem) {
            await collection.add(ecdsa: ec)
            out.append(Verifier(kid: nil, algorithm: try await collection.getKey()))
        } else if let ec = try? ES384PublicKey(pem: pem) {
            await collection.add(ecdsa: ec)
            out.append(Verifier(kid: nil, algorithm: try await collection.getKey()))
        } else if let ec = try? ES512PublicKey(pem: pem) {
            await collection.add(ecdsa: ec)
            out.append(Verifier(kid: nil, algorithm: try await collection.getKey()))
        } else if let ed = try? EdDSA.PublicKey(pem: pem) {
            await collection.add(eddsa: ed)
            out.append(Verifier(kid: nil, algorithm: try await collection.getKey()))
        } else {
            throw JWTKeyError(description: "public key \(index + 1) is not a PEM RSA, EC (P-256/384/521) or Ed25519 public key")
        }
        return out
    }

    /// The algorithms of a JWKS's keys, each under its `kid`; a key without `alg` gets the one its type implies.
    static func jwksVerifiers(json: String) async throws -> [Verifier] {
        let jwks: JWKS
        do { jwks = try JSONDecoder().decode(JWKS.self, from: Data(json.utf8)) } catch {
            throw JWTKeyError(description: "the JWKS is not a JSON Web Key Set: \(error)")
        }
        var out: [Verifier] = []
        for (index, jwk) in jwks.keys.enumerated() {
            let kid = jwk.keyIdentifier ?? JWKIdentifier(string: "jwks-\(index)")
            let collection = try await JWTKeyCollection().add(jwk: jwk)
            let alg = jwk.algorithm?.rawValue ?? implicitAlgorithm(of: jwk)
            do {
                out.append(Verifier(kid: jwk.keyIdentifier.map { _ in kid.string }, algorithm: try await collection.getKey(for: kid, alg: alg)))
            } catch {
                throw JWTKeyError(description: "JWKS key \(index + 1) (kid \(kid.string)) cannot verify: \(error)")
            }
        }
        return out
    }

    static func implicitAlgorithm(of jwk: JWK) -> String? {
        switch (jwk.keyType, jwk.curve?.rawValue) {
        case (.rsa, _): return "RS256"
        case (.ecdsa, "P-256"): return "ES256"
        case (.ecdsa, "P-384"): return "ES384"
        case (.ecdsa, "P-521"): return "ES512"
        case (.octetKeyPair, _): return "EdDSA"
        default: return nil
        }
    }
}
