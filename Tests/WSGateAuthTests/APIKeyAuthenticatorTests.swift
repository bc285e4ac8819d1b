import Foundation
import Testing
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport
@testable import WSGateAuth

/// The `api_key` method: keys kept as SHA-256 hashes. The hashes below are `printf %s KEY | sha256sum`'s.
@Suite struct APIKeyAuthenticatorTests {

    static let file = """
        # API keys of the chat service
        0d0b4c1f0a8f3cf5b5e8b8d45d3a5cd8a9f3c2a4a3e7c08b4bd2b6b1d7dc31a0 unused
        ALICE_HASH alice
        BOTS_HASH
        """

    static func authenticator() throws -> APIKeyAuthenticator {
        try APIKeyAuthenticator(hashFile: file.replacingOccurrences(of: "ALICE_HASH", with: Hashes.alice)
            .replacingOccurrences(of: "BOTS_HASH", with: Hashes.bots))
    }

    static func result(_ token: String?) throws -> AuthenticationResult {
        try authenticator().authenticate(PresentedCredentials(token: token.map { PresentedToken(token: $0, source: .authorizationHeader) }),
                                         now: 0)
    }

    @Test func aKnownKeyAdmitsUnderItsName() throws {
        #expect(try Self.result("key-for-alice") == .authenticated(WebSocketIdentity(method: "api_key", subject: "alice")))
        #expect(try Self.result("key-for-bots") == .authenticated(WebSocketIdentity(method: "api_key", subject: "key-" + Hashes.bots.prefix(8))))
        #expect(try Self.authenticator().count == 3)
    }

    @Test func anUnknownKeyIsRefusedAndNoKeyIsNotPresented() throws {
        #expect(try Self.result("key-for-mallory") == .refused("unknown API key"))
        #expect(try Self.result(nil) == .notPresented)
    }

    @Test func aLineThatIsNoHashIsAnErrorWithItsNumber() {
        #expect(throws: APIKeyAuthenticator.FileError.self) { try APIKeyAuthenticator(hashFile: "# ok\nnot-a-hash alice\n") }
        do { _ = try APIKeyAuthenticator(hashFile: "\n\nabc\n"); Issue.record("abc was read as a hash") } catch let error as APIKeyAuthenticator.FileError { #expect(error.line == 3) } catch { Issue.record("\(error)") }
    }
}

/// `printf %s key-for-alice | sha256sum` and `printf %s key-for-bots | sha256sum` (coreutils, not the code under test).
enum Hashes {
    static let alice = "02f45a258e20b7591479b6cd15e4a37174f1437dff0d663dc800b6d15a72b064"
    static let bots = "f07c93b5872fa445b2b6362bcb61090bf1db83237327acbe20767b5a4716b914"
}
