import NIOConcurrencyHelpers

/// JWTs whose signature a `JWTAuthenticator` verified, by their text, with their decoded claims. Only good
/// signatures go in (a forged token is verified, and refused, every time), and only the signature and the
/// decoding are skipped on a hit: `exp`, `nbf`, `iss` and `aud` are checked at every handshake.
///
/// Bounded: at `capacity` entries it starts over empty — simpler than LRU, and a flood of distinct valid
/// tokens (each needs the key to mint) only costs the verification the cache would have saved.
final class VerifiedTokenCache: Sendable {
    typealias Entry = (claims: JWTClaimSet, alg: String)

    let capacity: Int
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    subscript(token: String) -> Entry? {
        get { entries.withLockedValue { $0[token] } }
        set {
            entries.withLockedValue { all in
                if all.count >= capacity { all.removeAll(keepingCapacity: true) }
                all[token] = newValue
            }
        }
    }

    var count: Int { entries.withLockedValue { $0.count } }
}
