import Testing
import WebSocketAPI
import WebSocketTransport
@testable import WSGateAuth

/// The `mtls` method's reading of a certificate openssl made (Fixtures): the subject and the names that
/// access control can require.
@Suite struct ClientCertificateAuthenticatorTests {
    static func identity(_ der: [UInt8]) -> AuthenticationResult {
        ClientCertificateAuthenticator().authenticate(PresentedCredentials(clientCertificate: ClientCertificate(der: der)), now: 0)
    }

    @Test func theCommonNameIsTheSubjectAndTheNamesAreClaims() throws {
        guard case .authenticated(let identity) = Self.identity(Fixtures.shared.certificate("alice")) else {
            Issue.record("not admitted: \(Self.identity(Fixtures.shared.certificate("alice")))")
            return
        }
        #expect(identity.method == "mtls" && identity.subject == "alice")
        #expect(identity.claims["subject"]?.string?.contains("CN=alice") == true)
        #expect(identity.claims["subject"]?.string?.contains("O=wsgate tests") == true)
        #expect(identity.claims["san"]?.words == ["alice.example.test", "alice@example.test", "192.0.2.7",
                                                  "spiffe://example.test/alice"])
        #expect(AccessRequirement(subjects: ["alice"], claims: ["san": ["alice@example.test"]]).refusal(for: identity) == nil)
    }

    @Test func withoutACommonNameTheWholeNameIsTheSubject() {
        guard case .authenticated(let identity) = Self.identity(Fixtures.shared.certificate("nocn")) else {
            Issue.record("not admitted")
            return
        }
        #expect(identity.subject.contains("OU=robots") && identity.claims["san"] == .array([]))
    }

    @Test func noCertificateIsNotPresentedAndGarbageIsRefused() {
        #expect(ClientCertificateAuthenticator().authenticate(PresentedCredentials(), now: 0) == .notPresented)
        #expect(Self.identity([0x30, 0x03, 0x02, 0x01]) == .refused("the client certificate cannot be read"))
    }
}
