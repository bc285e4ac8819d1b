import NIOCore
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// Access control inside the one handshake decision, on every wire: between the origin policy and the service,
/// with the credential taken out of what the service sees.
@Suite struct HandshakeDecisionAccessTests {
    /// A method that knows one token per subject (`tok-alice` → alice with `scope: chat`).
    struct KnownTokens: HandshakeAuthenticator {
        var method = "test"
        var tokens: [String: WebSocketIdentity]
        func authenticate(_ presented: PresentedCredentials, now: Double) -> AuthenticationResult {
            guard let token = presented.token?.token else { return .notPresented }
            return tokens[token].map { .authenticated($0) } ?? .refused("unknown token")
        }
    }

    struct Recording: WebSocketService {
        let seen: @Sendable (WebSocketRequest, [String]) -> Void
        func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
            seen(request, offeredSubprotocols)
            return .accept(subprotocol: offeredSubprotocols.first)
        }
        func makeHandler() -> any WebSocketHandler { HandshakeDecisionTests.Silent() }
    }

    static let alice = WebSocketIdentity(method: "test", subject: "alice", claims: ["scope": .string("chat")])
    static let policy = AccessPolicy(methods: [KnownTokens(tokens: ["tok-alice": alice])])

    static func route(_ policy: AccessPolicy = policy,
                      seen: @escaping @Sendable (WebSocketRequest, [String]) -> Void = { _, _ in }) -> ServiceRouter.Route {
        var router = ServiceRouter()
        router.mount(Recording(seen: seen), at: "/chat", access: policy)
        return router.route(for: "/chat")!
    }

    static func candidate(_ wire: WebSocketWire, headers: [(String, String)] = [], query: String? = nil,
                          offering: [String] = []) -> HandshakeDecision.Candidate {
        HandshakeDecision.Candidate(wire: wire, path: "/chat", query: query, headers: HTTPFields(headers), origin: nil,
                                    offeredSubprotocols: offering, remoteAddress: nil, secure: false, receivedAt: 1000)
    }

    static func refusal(_ verdict: HandshakeDecision.Verdict) -> (HandshakeRejection, GatewayMetrics.HandshakeFailure)? {
        if case .reject(let rejection, let reason) = verdict { return (rejection, reason) }
        return nil
    }

    @Test(arguments: WebSocketWire.allCases)
    func noCredentialIs401WithABearerChallengeAndTheServiceIsNotAsked(wire: WebSocketWire) throws {
        let route = Self.route { _, _ in Issue.record("the service was asked without a credential") }
        let (rejection, reason) = try #require(Self.refusal(HandshakeDecision.decide(Self.candidate(wire), route: route)))
        #expect(rejection.status == 401 && reason == .unauthenticated)
        let challenge = try #require(rejection.headers["WWW-Authenticate"])
        #expect(challenge.hasPrefix("Bearer realm=\"wsgate\"") && challenge.contains("error=\"invalid_token\""))
        #expect(challenge.contains("error_description=\"no credential presented\""))
    }

    @Test(arguments: WebSocketWire.allCases)
    func anUnknownTokenIs401AndTheResponseNeverQuotesIt(wire: WebSocketWire) throws {
        let (rejection, _) = try #require(Self.refusal(HandshakeDecision.decide(
            Self.candidate(wire, headers: [("Authorization", "Bearer tok-mallory")]), route: Self.route())))
        #expect(rejection.status == 401 && rejection.detail == "unknown token")
        #expect(!rejection.response.contains("tok-mallory"))
    }

    @Test(arguments: WebSocketWire.allCases)
    func anAdmittedClientReachesTheServiceWithItsIdentityAndWithoutItsCredential(wire: WebSocketWire) throws {
        let entry = CredentialSources.subprotocolPrefix + Base64.encodeURLSafe("tok-alice".utf8)
        for candidate in [Self.candidate(wire, query: "room=1&access_token=tok-alice"),
                          Self.candidate(wire, query: "room=1", offering: [entry, "chat"])] {
            let seen = SeenBox()
            let verdict = HandshakeDecision.decide(candidate, route: Self.route { request, offered in seen.set(request, offered) })
            guard case .accept(let request) = verdict else { Issue.record("refused: \(verdict)"); continue }
            #expect(request.identity == Self.alice && request.query == "room=1")
            let (serviceSaw, offered) = try #require(seen.get())
            #expect(serviceSaw.identity == Self.alice && serviceSaw.query == "room=1")
            #expect(!offered.contains(entry) && request.subprotocol != entry)
        }
    }

    @Test(arguments: WebSocketWire.allCases)
    func anAuthenticatedClientTheRequirementRefusesIs403(wire: WebSocketWire) throws {
        var policy = Self.policy
        policy.requirement = AccessRequirement(claims: ["scope": ["vnc"]])
        let (rejection, reason) = try #require(Self.refusal(HandshakeDecision.decide(
            Self.candidate(wire, headers: [("Cookie", "access_token=tok-alice")]), route: Self.route(policy))))
        #expect(rejection.status == 403 && reason == .forbidden)
        #expect(rejection.headers["WWW-Authenticate"]?.contains("error=\"insufficient_scope\"") == true)
        #expect(rejection.detail == "the scope claim does not contain vnc")
    }

    @Test(arguments: WebSocketWire.allCases)
    func anUnreadableCredentialIs400InvalidRequest(wire: WebSocketWire) throws {
        let (rejection, reason) = try #require(Self.refusal(HandshakeDecision.decide(
            Self.candidate(wire, headers: [("Authorization", "Bearer a")], query: "access_token=b"), route: Self.route())))
        #expect(rejection.status == 400 && reason == .unauthenticated)
        #expect(rejection.headers["WWW-Authenticate"]?.contains("error=\"invalid_request\"") == true)
    }

    @Test func anyOneMethodThatSucceedsAdmits() throws {
        let bob = WebSocketIdentity(method: "second", subject: "bob")
        let policy = AccessPolicy(methods: [KnownTokens(tokens: ["tok-alice": Self.alice]),
                                            KnownTokens(method: "second", tokens: ["tok-bob": bob])])
        let verdict = HandshakeDecision.decide(Self.candidate(.rfc6455, headers: [("Authorization", "Bearer tok-bob")]),
                                               route: Self.route(policy))
        guard case .accept(let request) = verdict else { Issue.record("refused: \(verdict)"); return }
        #expect(request.identity == bob)
        let (rejection, _) = try #require(Self.refusal(HandshakeDecision.decide(
            Self.candidate(.rfc6455, headers: [("Authorization", "Bearer nobody")]), route: Self.route(policy))))
        #expect(rejection.detail == "test: unknown token; second: unknown token")
    }

    @Test func theRequirementNamesSubjectsAndClaimWords() {
        let requirement = AccessRequirement(subjects: ["alice"], claims: ["scope": ["chat"], "roles": ["admin"]])
        var identity = WebSocketIdentity(method: "jwt", subject: "alice", claims: ["scope": .string("read chat"),
                                                                                  "roles": .array([.string("admin")])])
        #expect(requirement.refusal(for: identity) == nil)
        identity.claims["roles"] = .number(1)
        #expect(requirement.refusal(for: identity) == "the credential has no roles claim")
        identity.subject = "bob"
        #expect(requirement.refusal(for: identity) == "subject bob is not allowed here")
    }

    @Test func theChallengeStaysOneQuotedString() {
        #expect(Self.policy.challenge(error: "invalid_token", description: "a \"quoted\"\\ reason")
            == "Bearer realm=\"wsgate\", error=\"invalid_token\", error_description=\"a 'quoted'' reason\"")
    }
}

/// What the service saw, handed out of its `decide`.
final class SeenBox: @unchecked Sendable {
    private var value: (WebSocketRequest, [String])?
    func set(_ request: WebSocketRequest, _ offered: [String]) { value = (request, offered) }
    func get() -> (WebSocketRequest, [String])? { value }
}
