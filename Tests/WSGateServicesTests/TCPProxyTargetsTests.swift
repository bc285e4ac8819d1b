import Testing
import WebSocketAPI
@testable import WSGateServices

/// A TCP proxy's named backends: picked by claim, path segment or query; a name outside the list is `403`.
@Suite struct TCPProxyTargetsTests {
    static let backends: [String: TCPProxyTargets.Backend] = ["desk1": .init(host: "127.0.0.1", port: 5901),
                                                              "desk 2": .init(host: "::1", port: 5902)]

    static func service(_ selector: TCPProxyTargets.Selector) -> TCPProxyService {
        TCPProxyService(targets: TCPProxyTargets(backends: backends, selector: selector, mountPath: "/vnc"))
    }

    static func decision(_ selector: TCPProxyTargets.Selector, path: String = "/vnc", query: String? = nil,
                         claims: [String: ClaimValue]? = nil) -> ServiceDecision {
        var request = WebSocketRequest(path: path, query: query, wire: .rfc6455)
        request.identity = claims.map { WebSocketIdentity(method: "jwt", subject: "alice", claims: $0) }
        return service(selector).decide(request: request, offeredSubprotocols: [])
    }

    static func status(_ decision: ServiceDecision) -> Int {
        switch decision {
        case .accept: return 101
        case .reject(let rejection): return rejection.status
        }
    }

    @Test func aQueryTokenNamesTheBackend() {
        #expect(Self.status(Self.decision(.query("token"), query: "token=desk1")) == 101)
        #expect(Self.status(Self.decision(.query("token"), query: "a=1&token=desk%202")) == 101)
        #expect(Self.status(Self.decision(.query("token"), query: "token=127.0.0.1:22")) == 403)
        #expect(Self.status(Self.decision(.query("token"))) == 403)
    }

    @Test func aPathSegmentNamesTheBackend() {
        #expect(Self.status(Self.decision(.pathSegment, path: "/vnc/desk1")) == 101)
        #expect(Self.status(Self.decision(.pathSegment, path: "/vnc/desk9")) == 403)
        #expect(Self.status(Self.decision(.pathSegment, path: "/vnc")) == 403)
        #expect(Self.status(Self.decision(.pathSegment, path: "/vnc/desk1/x")) == 403)
    }

    @Test func aClaimNamesTheBackendAndAClientCannotNameAHost() {
        #expect(Self.status(Self.decision(.claim("target"), claims: ["target": .string("desk1")])) == 101)
        #expect(Self.status(Self.decision(.claim("target"), claims: ["target": .string("evil.example:22")])) == 403)
        #expect(Self.status(Self.decision(.claim("target"), claims: ["target": .number(1)])) == 403)
        #expect(Self.status(Self.decision(.claim("target"), query: "target=desk1")) == 403) // no identity, no claim
    }

    @Test func theRefusalDoesNotEchoALongName() {
        guard case .reject(let rejection) = Self.decision(.query("token"), query: "token=" + String(repeating: "x", count: 5000)) else {
            Issue.record("accepted")
            return
        }
        #expect(rejection.detail.count < 200)
    }
}
