import Foundation
import NIOCore
import NIOEmbedded
import Testing
import WebSocketAPI
import WebSocketAPITestSupport
import WSGateMetrics
import WSGateMonitoring

/// The console's live feed through a `RecordingConnection` on an `EmbeddedEventLoop`, whose clock the test
/// moves: one update on open, one per interval, the gateway's figures in each, and none after the close.
@Suite struct ConsoleLiveServiceTests {
    struct Update: Decodable {
        var time: Double
        var uptime: Double
        var snapshot: GatewayMetrics.Snapshot
        var mounted: [String]
    }

    static func updates(_ connection: RecordingConnection) throws -> [Update] {
        try connection.sentMessages.map { message in
            #expect(message.kind == .text)
            return try JSONDecoder().decode(Update.self, from: Data(message.data.readableBytesView))
        }
    }

    @Test func sendsTheFiguresOnOpenAndEveryIntervalUntilClosed() throws {
        let loop = EmbeddedEventLoop()
        let monitoring = GatewayMonitoring()
        let service = ConsoleLiveService(monitoring: monitoring, mounted: ["/echo", "/chat"], interval: .seconds(1))
        let connection = RecordingConnection(eventLoop: loop)
        let handler = service.makeHandler()

        handler.connectionDidOpen(connection)
        loop.run()
        var updates = try Self.updates(connection)
        #expect(updates.count == 1, "one update as soon as the feed opens")
        #expect(updates.first?.mounted == ["/echo", "/chat"])
        #expect(updates.first?.snapshot.handshakeFailures.isEmpty == true)

        monitoring.metrics.handshakeFailed(.notFound)
        monitoring.metrics.handshakeFailed(.notFound)
        monitoring.metrics.handshakeFailed(.originDenied)
        _ = monitoring.metrics.service(path: "/echo", protocol: "rfc6455")
        loop.advanceTime(by: .milliseconds(999))
        #expect(connection.sentMessages.count == 1, "not before the interval is up")
        loop.advanceTime(by: .milliseconds(1))
        updates = try Self.updates(connection)
        #expect(updates.count == 2)
        let latest = try #require(updates.last)
        #expect(latest.snapshot.handshakeFailures == ["not_found": 2, "origin_denied": 1])
        #expect(latest.snapshot.services.map(\.path) == ["/echo"])
        #expect(latest.uptime >= 0 && latest.time > 1_700_000_000)

        handler.connection(connection, didReceive: .text("ignored"))
        #expect(connection.sentMessages.count == 2, "what a viewer sends gets no answer")

        handler.connectionDidClose(connection, info: WebSocketCloseInfo(code: 1001, reason: "", wasClean: true))
        loop.advanceTime(by: .seconds(5))
        #expect(connection.sentMessages.count == 2, "the timer stops with the connection")
        #expect(connection.closes.isEmpty)
    }

    @Test func eachViewerHasItsOwnTimer() throws {
        let loop = EmbeddedEventLoop()
        let service = ConsoleLiveService(monitoring: GatewayMonitoring(), mounted: [], interval: .milliseconds(250))
        let early = RecordingConnection(eventLoop: loop)
        let late = RecordingConnection(eventLoop: loop)
        let earlyHandler = service.makeHandler()
        let lateHandler = service.makeHandler()
        earlyHandler.connectionDidOpen(early)
        loop.run()
        loop.advanceTime(by: .milliseconds(500))
        lateHandler.connectionDidOpen(late)
        loop.run()
        earlyHandler.connectionDidClose(early, info: WebSocketCloseInfo(code: 1000, reason: "", wasClean: true))
        loop.advanceTime(by: .milliseconds(250))
        #expect(early.sentMessages.count == 3)
        #expect(late.sentMessages.count == 2)
    }
}
