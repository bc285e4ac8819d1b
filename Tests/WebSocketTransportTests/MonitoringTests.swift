import Foundation
import NIOCore
import Testing
import WSGateMonitoring
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// `/metrics`, the console page and its live feed, served by a real listener and read over loopback.
@Suite struct MonitoringTests {
    func monitoredRouter(_ monitoring: GatewayMonitoring) -> ServiceRouter {
        var router = defaultRouter()
        router.serve(monitoring.prometheusEndpoint, at: "/metrics")
        router.mount(ConsoleLiveService(monitoring: monitoring, mounted: router.paths, interval: .milliseconds(100)),
                     at: "/console/live")
        router.serve(ConsolePage(livePath: "/console/live"), at: "/")
        return router
    }

    /// `name{labels}` → value, from the Prometheus text format (comments skipped).
    func scrape(port: Int) async throws -> [String: Double] {
        let exchange = try await rawExchange(port: port, Array("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
        #expect(exchange.closed, "\(exchange)")
        let reply = exchange.text
        #expect(reply.hasPrefix("HTTP/1.1 200 OK\r\n"))
        #expect(reply.contains("Content-Type: text/plain; version=0.0.4"))
        let body = reply.components(separatedBy: "\r\n\r\n").dropFirst().joined()
        var samples: [String: Double] = [:]
        for line in body.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                Issue.record("not a sample line: \(line)")
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    /// Scrapes until `condition` holds (a connection's close is counted when the server has processed it,
    /// which may be just after the client saw the TCP close).
    func scrape(port: Int, until condition: ([String: Double]) -> Bool) async throws -> [String: Double] {
        var samples = try await scrape(port: port)
        for _ in 0..<50 where !condition(samples) {
            try await Task.sleep(for: .milliseconds(40))
            samples = try await scrape(port: port)
        }
        return samples
    }

    @Test func countersMoveWithTrafficClosesAndRefusals() async throws {
        let monitoring = GatewayMonitoring()
        try await withServer(router: monitoredRouter(monitoring), metrics: monitoring.metrics) { port in
            let before = try await scrape(port: port)
            #expect(before["wsgate_handshake_failures_total{reason=\"not_found\"}"] == 0)
            #expect(before["wsgate_handshake_failures_total{reason=\"origin_denied\"}"] == 0)

            // Three text messages of 3 bytes echoed, then close 1000 from the client.
            var request = Array(upgradeRequest(path: "/echo").utf8)
            for _ in 0..<3 { request += clientFrame(.text, Array("abc".utf8)) }
            request += clientFrame(.close, [0x03, 0xE8])
            let exchange = try await rawExchange(port: port, request)
            #expect(exchange.closed, "\(exchange)")
            let reply = splitResponse(exchange.bytes)
            #expect(reply.frames.filter { $0.0 == .text }.count == 3)
            for refused in ["GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n", "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n"] {
                let answer = try await rawExchange(port: port, Array(refused.utf8))
                #expect(answer.closed && answer.text.hasPrefix("HTTP/1.1 4"), "\(answer)")
            }

            let echo = "protocol=\"rfc6455\",service=\"/echo\""
            let after = try await scrape(port: port) { $0["wsgate_closes_total{\(echo),code=\"1000\",initiator=\"peer\"}"] == 1 }
            #expect(after["wsgate_handshakes_total{\(echo)}"] == 1)
            #expect(after["wsgate_messages_received_total{\(echo)}"] == 3)
            #expect(after["wsgate_received_bytes_total{\(echo)}"] == 9)
            #expect(after["wsgate_messages_sent_total{\(echo)}"] == 3)
            #expect(after["wsgate_sent_bytes_total{\(echo)}"] == 9)
            #expect(after["wsgate_connections{\(echo)}"] == 0)
            #expect(after["wsgate_closes_total{\(echo),code=\"1000\",initiator=\"peer\"}"] == 1)
            #expect(after["wsgate_handshake_failures_total{reason=\"not_found\"}"] == 1)
            #expect(after["wsgate_handshake_failures_total{reason=\"upgrade_required\"}"] == 1)

            let snapshot = monitoring.metrics.snapshot()
            let totals = try #require(snapshot.services.first { $0.path == "/echo" })
            #expect(totals.messagesReceived == 3 && totals.bytesSent == 9 && totals.connections == 0 && totals.handshakes == 1)
            #expect(snapshot.handshakeFailures == ["not_found": 1, "upgrade_required": 1])
        }
    }

    @Test func aProtocolErrorIsCountedAsTheGatewaysClose() async throws {
        let monitoring = GatewayMonitoring()
        try await withServer(router: monitoredRouter(monitoring), metrics: monitoring.metrics) { port in
            // A text frame that is not UTF-8: the gateway closes with 1007.
            let request = Array(upgradeRequest(path: "/echo").utf8) + clientFrame(.text, [0xC3, 0x28])
            let reply = try await rawExchange(port: port, request)
            let codes = splitResponse(reply.bytes).frames.map { closeCode(of: $0.1) }
            #expect(reply.closed && codes == [1007], "\(reply)")
            let key = "wsgate_closes_total{protocol=\"rfc6455\",service=\"/echo\",code=\"1007\",initiator=\"gateway\"}"
            let samples = try await scrape(port: port) { $0[key] == 1 }
            #expect(samples[key] == 1)
        }
    }

    /// Close codes a client picks (3000–4999) are counted in one series per range, not one per value.
    @Test func privateCloseCodesShareOneSeries() async throws {
        let monitoring = GatewayMonitoring()
        try await withServer(router: monitoredRouter(monitoring), metrics: monitoring.metrics) { port in
            for code: UInt16 in [4001, 4999, 3210] {
                let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
                _ = await ws.close(code: CloseCode(code))
            }
            let prefix = "wsgate_closes_total{protocol=\"rfc6455\",service=\"/echo\",code="
            let samples = try await scrape(port: port) { $0[prefix + "\"4xxx\",initiator=\"peer\"}"] == 2 }
            #expect(samples[prefix + "\"4xxx\",initiator=\"peer\"}"] == 2 && samples[prefix + "\"3xxx\",initiator=\"peer\"}"] == 1)
            #expect(!samples.keys.contains { $0.contains("4001") || $0.contains("3210") })
        }
    }

    @Test func theConsolePageNamesItsLiveFeed() async throws {
        let monitoring = GatewayMonitoring()
        try await withServer(router: monitoredRouter(monitoring), metrics: monitoring.metrics) { port in
            let pageReply = try await rawExchange(port: port, Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(pageReply.closed, "\(pageReply)")
            let page = pageReply.text
            #expect(page.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(page.contains("Content-Type: text/html; charset=utf-8"))
            #expect(page.contains("<meta name=\"wsgate-live\" content=\"/console/live\">"))
            #expect(!page.contains("{{LIVE_PATH}}"))

            let head = try await rawExchange(port: port, Array("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(head.closed && head.text.hasPrefix("HTTP/1.1 200 OK\r\n") && head.text.hasSuffix("\r\n\r\n"), "\(head)")

            let post = try await rawExchange(port: port, Array("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".utf8))
            #expect(post.closed, "\(post)")
            #expect(post.text.hasPrefix("HTTP/1.1 405 "))
            #expect(post.text.contains("Allow: GET, HEAD"))
        }
    }

    @Test func theLiveFeedReportsOpenConnectionsAndTraffic() async throws {
        let monitoring = GatewayMonitoring()
        try await withServer(router: monitoredRouter(monitoring), metrics: monitoring.metrics) { port in
            let echo = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
            var echoed = echo.messages.makeAsyncIterator()
            for _ in 0..<4 {
                try await echo.send(text: "hello")
                _ = await echoed.next()
            }
            let live = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/console/live")
            var updates = live.messages.makeAsyncIterator()
            // Updates keep coming; wait for one that has seen all four echoes (reported at the next flush).
            var found = false
            for _ in 0..<50 {
                guard let message = await updates.next(), message.kind == .text else { break }
                let update = try JSONSerialization.jsonObject(with: Data(message.data.readableBytesView)) as! [String: Any]
                #expect((update["mounted"] as? [String]) == ["/broadcast", "/echo"])
                let snapshot = update["snapshot"] as! [String: Any]
                let services = snapshot["services"] as! [[String: Any]]
                if let e = services.first(where: { $0["path"] as? String == "/echo" }),
                   e["messagesReceived"] as? Int == 4, e["messagesSent"] as? Int == 4, e["connections"] as? Int == 1 {
                    #expect(e["bytesReceived"] as? Int == 20)
                    #expect((snapshot["tcpConnections"] as? Int ?? 0) >= 2)
                    found = true
                    break
                }
            }
            #expect(found)
            await live.close()
            await echo.close()
        }
    }
}
