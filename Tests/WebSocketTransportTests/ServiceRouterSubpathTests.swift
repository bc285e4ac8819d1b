import Testing
import WebSocketAPI
@testable import WebSocketTransport

/// A service mounted with its subpaths (a TCP proxy picking its backend by path segment) and one without.
@Suite struct ServiceRouterSubpathTests {
    @Test func subpathsReachOnlyAServiceThatAsksForThem() {
        var router = ServiceRouter()
        router.mount(HandshakeDecisionTests.Deciding { _ in .accept(subprotocol: nil) }, at: "/vnc", matchingSubpaths: true)
        router.mount(HandshakeDecisionTests.Deciding { _ in .accept(subprotocol: nil) }, at: "/echo")
        #expect(router.route(for: "/vnc")?.path == "/vnc")
        #expect(router.route(for: "/vnc/desk1")?.path == "/vnc")
        #expect(router.route(for: "/vnc/a/b")?.path == "/vnc")
        #expect(router.route(for: "/vncx") == nil)
        #expect(router.route(for: "/echo/x") == nil)
        #expect(router.route(for: "/") == nil)
    }

    @Test func theRootWithItsSubpathsTakesEveryPathNoOtherRouteHas() {
        var router = ServiceRouter()
        router.mount(HandshakeDecisionTests.Deciding { _ in .accept(subprotocol: nil) }, at: "/", matchingSubpaths: true)
        router.mount(HandshakeDecisionTests.Deciding { _ in .accept(subprotocol: nil) }, at: "/echo")
        #expect(router.route(for: "/")?.path == "/")
        #expect(router.route(for: "/anything/at/all")?.path == "/")
        #expect(router.route(for: "/echo")?.path == "/echo")
        #expect(router.route(for: "/echo/x")?.path == "/")
    }
}
