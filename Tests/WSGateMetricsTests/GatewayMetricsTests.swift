import CoreMetrics
import Testing
@testable import WSGateMetrics

/// The in-process totals the console shows, fed the way the transport feeds them: a connection opens, reports
/// its traffic in tallies, closes. The swift-metrics side goes to a no-op factory here (the Prometheus text is
/// checked in WSGateMonitoringTests and, over sockets, in WebSocketTransportTests).
@Suite struct GatewayMetricsTests {
    static func makeMetrics() -> GatewayMetrics { GatewayMetrics(factory: NOOPMetricsHandler.instance) }

    @Test func aConnectionsLifeAddsUpInTheSnapshot() {
        let metrics = Self.makeMetrics()
        let echo = metrics.service(path: "/echo", protocol: "rfc6455")
        #expect(metrics.service(path: "/echo", protocol: "rfc6455") === echo, "one ServiceMetrics per path and wire")
        echo.opened()
        echo.opened()
        var tally = TrafficTally()
        #expect(tally.isEmpty)
        tally.received(bytes: 5)
        tally.received(bytes: 7)
        tally.sent(bytes: 12)
        #expect(!tally.isEmpty)
        echo.record(tally)
        echo.sendQueueDropped()
        echo.closed(code: 1008, initiator: .gateway)

        let totals = metrics.snapshot().services
        #expect(totals == [ServiceMetrics.Totals(path: "/echo", protocol: "rfc6455", connections: 1, handshakes: 2,
                                                 messagesReceived: 2, messagesSent: 1, bytesReceived: 12, bytesSent: 12,
                                                 sendQueueDrops: 1)])
    }

    @Test func servicesAreSortedByPathThenWire() {
        let metrics = Self.makeMetrics()
        for (path, wire) in [("/z", "rfc6455"), ("/a", "wsr"), ("/a", "hixie76")] {
            metrics.service(path: path, protocol: wire).opened()
        }
        #expect(metrics.snapshot().services.map { "\($0.path) \($0.protocol)" } == ["/a hixie76", "/a wsr", "/z rfc6455"])
    }

    @Test func refusalsAndTCPConnectionsAreCounted() {
        let metrics = Self.makeMetrics()
        metrics.handshakeFailed(.notFound)
        metrics.handshakeFailed(.notFound)
        metrics.handshakeFailed(.timeout)
        metrics.tcpConnectionOpened()
        metrics.tcpConnectionOpened()
        metrics.tcpConnectionClosed()
        let snapshot = metrics.snapshot()
        #expect(snapshot.handshakeFailures == ["not_found": 2, "timeout": 1], "reasons that never happened are absent")
        #expect(snapshot.tcpConnections == 1)
    }

    @Test(arguments: [(1000, "1000"), (1011, "1011"), (2999, "2999"), (3000, "3xxx"), (3999, "3xxx"),
                      (4000, "4xxx"), (4999, "4xxx")] as [(UInt16, String)])
    func closeCodeLabelsKeepTheClientChosenRangesBounded(code: UInt16, label: String) {
        #expect(ServiceMetrics.codeLabel(code) == label)
    }
}
