import NIOCore
import Testing
import WebSocketEngine
import WSGateMetrics
import WSGateMonitoring

/// The two operator resources answered in-process: `/metrics` text from the registry the gateway counts
/// into, and the console page with its live path and its anti-framing headers.
@Suite struct HTTPResourceTests {
    static let get = HTTPRequestHead(method: "GET", target: "/", version: "HTTP/1.1", headers: HTTPFields())

    @Test func prometheusTextCarriesWhatTheGatewayCounted() throws {
        let monitoring = GatewayMonitoring()
        monitoring.metrics.handshakeFailed(.originDenied)
        monitoring.metrics.handshakeFailed(.originDenied)
        _ = monitoring.metrics.service(path: "/echo", protocol: "rfc6455")
        let response = monitoring.prometheusEndpoint.respond(to: Self.get)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8")
        let lines = String(buffer: response.body).split(separator: "\n").map(String.init)
        #expect(lines.contains(#"wsgate_handshake_failures_total{reason="origin_denied"} 2"#))
        #expect(lines.contains(#"wsgate_handshake_failures_total{reason="timeout"} 0"#), "every reason exported from the start")
        #expect(lines.contains(#"wsgate_connections{protocol="rfc6455",service="/echo"} 0.0"#)
                || lines.contains(#"wsgate_connections{protocol="rfc6455",service="/echo"} 0"#))
    }

    @Test func consolePageNamesItsLiveFeedEscapedAndRefusesFraming() {
        let response = ConsolePage(livePath: "/live\"><script>").respond(to: Self.get)
        let page = String(buffer: response.body)
        #expect(response.status == 200)
        #expect(response.headers["Content-Type"] == "text/html; charset=utf-8")
        #expect(response.headers["X-Frame-Options"] == "DENY")
        #expect(response.headers["Content-Security-Policy"] == "frame-ancestors 'none'")
        #expect(page.contains("/live&quot;&gt;&lt;script&gt;"))
        #expect(!page.contains("/live\"><script>"))
        #expect(!page.contains("{{LIVE_PATH}}"))
    }
}
