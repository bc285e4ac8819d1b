import NIOCore
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// The one handshake decision, for every wire: the same request gets the same answer whether it came as an
/// RFC 6455 upgrade, a hixie-75/76 upgrade or a WSR create.
@Suite struct HandshakeDecisionTests {
    /// A service whose decision is given by the test.
    struct Deciding: WebSocketService {
        var decision: @Sendable ([String]) -> ServiceDecision
        func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision { decision(offeredSubprotocols) }
        func makeHandler() -> any WebSocketHandler { Silent() }
    }

    final class Silent: WebSocketHandler {
        func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {}
    }

    static func route(origins: OriginPolicy = .any, _ decision: @escaping @Sendable ([String]) -> ServiceDecision) -> ServiceRouter.Route {
        var router = ServiceRouter()
        router.mount(Deciding(decision: decision), at: "/chat", origins: origins)
        return router.route(for: "/chat")!
    }

    static func candidate(_ wire: WebSocketWire, origin: String? = nil, offering: [String] = []) -> HandshakeDecision.Candidate {
        HandshakeDecision.Candidate(wire: wire, path: "/chat", query: "room=1", headers: HTTPFields([("X-Trace", "7")]),
                                    origin: origin, offeredSubprotocols: offering,
                                    remoteAddress: try? SocketAddress(ipAddress: "127.0.0.9", port: 4000), secure: true)
    }

    static func rejection(_ verdict: HandshakeDecision.Verdict) -> (status: Int, reason: GatewayMetrics.HandshakeFailure)? {
        if case .reject(let rejection, let reason) = verdict { return (rejection.status, reason) }
        return nil
    }

    static func accepted(_ verdict: HandshakeDecision.Verdict) -> WebSocketRequest? {
        if case .accept(let request) = verdict { return request }
        return nil
    }

    @Test(arguments: WebSocketWire.allCases)
    func theRequestTheServiceSeesCarriesWhatTheWireParsed(wire: WebSocketWire) throws {
        let request = try #require(Self.accepted(HandshakeDecision.decide(Self.candidate(wire, origin: "https://app.example"),
                                                                          route: Self.route { _ in .accept(subprotocol: nil) })))
        #expect(request.wire == wire)
        #expect(request.path == "/chat" && request.query == "room=1" && request.headers["X-Trace"] == "7")
        #expect(request.origin == "https://app.example" && request.secure && request.subprotocol == nil)
        #expect(request.remoteAddress == (try SocketAddress(ipAddress: "127.0.0.9", port: 4000)))
    }

    @Test(arguments: WebSocketWire.allCases)
    func anOriginThePathDoesNotAllowIs403BeforeTheServiceIsAsked(wire: WebSocketWire) throws {
        let route = Self.route(origins: .only(["https://app.example"])) { _ in
            Issue.record("the service was asked although the origin is not allowed")
            return .accept(subprotocol: nil)
        }
        let refused = try #require(Self.rejection(HandshakeDecision.decide(Self.candidate(wire, origin: "https://evil.example"), route: route)))
        #expect(refused.status == 403 && refused.reason == .originDenied)
        // No Origin: a non-browser client, which passes.
        #expect(Self.accepted(HandshakeDecision.decide(Self.candidate(wire), route: Self.route(origins: .only(["https://app.example"])) { _ in
            .accept(subprotocol: nil)
        })) != nil)
    }

    @Test(arguments: WebSocketWire.allCases)
    func theServicesRefusalIsAnsweredAsItGaveIt(wire: WebSocketWire) throws {
        let route = Self.route { _ in .reject(.init(status: 409, reasonPhrase: "Conflict", detail: "room full")) }
        let refused = try #require(Self.rejection(HandshakeDecision.decide(Self.candidate(wire), route: route)))
        #expect(refused.status == 409 && refused.reason == .serviceRefused)
    }

    @Test(arguments: WebSocketWire.allCases)
    func theServicesChoiceAmongTheOfferedSubprotocolsIsTheConnections(wire: WebSocketWire) throws {
        let route = Self.route { offered in .accept(subprotocol: offered.last) }
        let request = try #require(Self.accepted(HandshakeDecision.decide(Self.candidate(wire, offering: ["v1", "v2"]), route: route)))
        #expect(request.subprotocol == "v2")
    }

    @Test(arguments: WebSocketWire.allCases)
    func aSubprotocolTheClientDidNotOfferIsTheServicesBug500(wire: WebSocketWire) throws {
        let route = Self.route { _ in .accept(subprotocol: "v3") }
        let refused = try #require(Self.rejection(HandshakeDecision.decide(Self.candidate(wire, offering: ["v1"]), route: route)))
        #expect(refused.status == 500 && refused.reason == .serviceRefused)
        let unasked = try #require(Self.rejection(HandshakeDecision.decide(Self.candidate(wire), route: route)))
        #expect(unasked.status == 500)
    }

    @Test(arguments: WebSocketWire.allCases)
    func choosingNoneOfTheOfferedSubprotocolsIsAllowed(wire: WebSocketWire) throws {
        let route = Self.route { _ in .accept(subprotocol: nil) }
        let request = try #require(Self.accepted(HandshakeDecision.decide(Self.candidate(wire, offering: ["v1"]), route: route)))
        #expect(request.subprotocol == nil)
    }
}
