import MSRPEngine
import NIOCore
import Testing
@testable import WSGateMSRP

/// The relay service's I/O against real sockets on 127.0.0.1: what the engine decided reaches the wire, the
/// transaction timer fires, and next hops are connected once.
@Suite struct MSRPRelayServiceTests {
    @Test func twoConcurrentForwardsToOneNextHopOpenOneConnection() async throws {
        let peer = try await NextHopPeer(.answer(code: 200, comment: "OK"))
        let relay = try RelayWithAlice()
        // Back to back: the second forward comes while the first one's connection is still being opened.
        relay.send(to: peer.uri, "send0001", messageID: "m1")
        relay.send(to: peer.uri, "send0002", messageID: "m2")
        #expect(try await eventually { peer.requests.count == 2 }, "\(peer.requests)")
        try await Task.sleep(for: .milliseconds(200)) // room for a second connection, were one opened
        #expect(peer.connections == 1)
        #expect(relay.service.nextHops.connectionCount == 1)
        #expect(relay.alice.reports == [])
        try await peer.close()
    }

    @Test func thePoolHandsOutTheConnectionBeingOpened() async throws {
        let peer = try await NextHopPeer(.silent)
        let relay = try RelayWithAlice()
        let uri = try MSRPURI(parsing: peer.uri)
        let first = relay.service.nextHops.leg(to: uri) { MSRPStreamLeg(relay: relay.service) }
        let second = relay.service.nextHops.leg(to: uri) { MSRPStreamLeg(relay: relay.service) }
        let (a, b) = (try await first.get(), try await second.get())
        #expect(a === b)
        let third = try await relay.service.nextHops.leg(to: uri) { MSRPStreamLeg(relay: relay.service) }.get()
        #expect(third === a)
        try await Task.sleep(for: .milliseconds(200))
        #expect(peer.connections == 1)
        // Once the connection is gone, the next forward opens another.
        a.close()
        #expect(try await eventually { relay.service.nextHops.connectionCount == 0 })
        let fourth = try await relay.service.nextHops.leg(to: uri) { MSRPStreamLeg(relay: relay.service) }.get()
        #expect(fourth !== a)
        #expect(try await eventually { peer.connections == 2 })
        try await peer.close()
    }

    @Test func aSilentNextHopGetsA408ReportWhenTheTimeoutPasses() async throws {
        let peer = try await NextHopPeer(.silent)
        let relay = try RelayWithAlice(transactionTimeout: .milliseconds(300))
        let start = ContinuousClock.now
        relay.send(to: peer.uri, "send0001", messageID: "silent-1")
        #expect(try await eventually { !relay.alice.reports.isEmpty }, "\(relay.alice.chunks)")
        #expect(ContinuousClock.now - start >= .milliseconds(300))
        let report = try #require(relay.alice.reports.first)
        #expect(report["Status"] == "000 408 Request Timeout")
        #expect(report["Message-ID"] == "silent-1" && report["Byte-Range"] == "1-5/5")
        #expect(report["To-Path"] == RelayWithAlice.alice)
        // Alice had her 200 first (hop by hop), and one REPORT only.
        #expect(relay.alice.chunks.map { $0.head.statusCode ?? 0 } == [200, 200, 0])
        try await Task.sleep(for: .milliseconds(400))
        #expect(relay.alice.reports.count == 1)
        try await peer.close()
    }

    @Test func aNextHopsErrorComesBackAsAReport() async throws {
        let peer = try await NextHopPeer(.answer(code: 403, comment: "Forbidden"))
        let relay = try RelayWithAlice()
        relay.send(to: peer.uri, "send0001", messageID: "refused-1")
        #expect(try await eventually { !relay.alice.reports.isEmpty })
        let report = try #require(relay.alice.reports.first)
        #expect(report["Status"] == "000 403 Forbidden" && report["Message-ID"] == "refused-1" && report["Byte-Range"] == "1-5/5")
        try await peer.close()
    }

    @Test func anUnreachableNextHopIsReported481UnlessFailureReportSaysNo() async throws {
        let relay = try RelayWithAlice()
        let dead = "msrp://127.0.0.1:\(try await closedPort())/nobody;tcp"
        relay.send(to: dead, "send0001", messageID: "quiet", failureReport: "no")
        relay.send(to: dead, "send0002", messageID: "loud")
        #expect(try await eventually { !relay.alice.reports.isEmpty })
        try await Task.sleep(for: .milliseconds(200))
        #expect(relay.alice.reports.map { $0["Message-ID"] } == ["loud"])
        #expect(relay.alice.reports.first?["Status"] == "000 481 Next Hop Unreachable")
    }
}
