import Foundation
import Testing
import WebSocketEngine
@testable import WSGateConfig

@Suite struct ConfigurationTests {
    @Test func theExampleFileIsTheEmbeddedDefault() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../examples/wsgate.yaml")
        let text = try String(contentsOf: url, encoding: .utf8)
        #expect(try GatewayConfiguration.parse(yaml: text) == .default)
        #expect(try GatewayConfiguration.parse(yaml: "") == .default)
    }

    @Test func everySettingIsRead() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        listeners:
          - host: 0.0.0.0
            port: 9000
          - port: 9443
            tls: {cert: /c.pem, key: /k.pem, allow_plaintext: yes}
        services:
          - path: /vnc
            type: tcp-proxy
            backend: "[::1]:5900"
            allowed_origins: [https://a.example]
            compression: off
          - path: /chat
            type: broadcast
            compression: {server_max_window_bits: 10, client_no_context_takeover: true, level: 1, memory_level: 4, min_size: 100}
        limits: {max_message_size: 1_000, max_connections: 5, max_connections_per_address: 2, ping_interval: 0,
                 idle_timeout: 60, handshake_timeout: 2.5, read_budget: 65536, compressed_read_budget: 8_192}
        log: {level: debug, format: json}
        """)
        #expect(c.listeners == [.init(host: "0.0.0.0", port: 9000),
                                .init(host: "127.0.0.1", port: 9443, tls: .init(certificateChainFile: "/c.pem", privateKeyFile: "/k.pem", allowPlaintext: true))])
        #expect(c.services[0] == .init(path: "/vnc", kind: .tcpProxy(host: "::1", port: 5900), allowedOrigins: ["https://a.example"], compression: nil))
        var chat = PerMessageDeflate.ServerSettings(serverMaxWindowBits: 10, clientNoContextTakeover: true)
        chat.tuning = .init(compressionLevel: 1, memoryLevel: 4, minimumMessageSize: 100)
        #expect(c.services[1] == .init(path: "/chat", kind: .broadcast(.init()), allowedOrigins: nil, compression: chat))
        #expect(c.limits.maxMessageSize == 1000 && c.limits.maxConnections == 5 && c.limits.maxConnectionsPerAddress == 2)
        #expect(c.limits.pingInterval == nil && c.limits.idleTimeout == 60 && c.limits.handshakeTimeout == 2.5)
        #expect(c.limits.readBudget == 65536 && c.limits.compressedReadBudget == 8192)
        #expect(c.log == { var l = GatewayConfiguration.Log(); l.level = "debug"; l.format = "json"; return l }())
    }

    @Test func readBudgetsReachEveryListener() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        listeners: [{port: 9000}, {port: 9001}]
        limits: {read_budget: 131072, compressed_read_budget: 16384}
        """)
        let servers = try c.makeServerConfigurations()
        #expect(servers.map(\.readBudget) == [131_072, 131_072] && servers.map(\.compressedReadBudget) == [16384, 16384])
        let defaults = try GatewayConfiguration.default.makeServerConfigurations()
        #expect(defaults.map(\.readBudget) == [262_144] && defaults.map(\.compressedReadBudget) == [32768])
    }

    func issues(_ yaml: String) -> [ConfigurationIssue] {
        do {
            _ = try GatewayConfiguration.parse(yaml: yaml)
            return []
        } catch {
            return error.issues
        }
    }

    @Test func errorsCarryTheirLineAndColumn() {
        let found = issues("""
        listeners:
          - host: 127.0.0.1
            prot: 8080
        services:
          - path: /echo
            type: echo
          - path: /echo
            type: broadcast
          - path: nope
            type: echoo
          - path: /x
            type: tcp-proxy
            backend: localhost
        limits:
          max_connections: many
          ping_interval: -1
        colour: blue
        """)
        let rendered = found.map(\.description)
        #expect(rendered.contains { $0.hasPrefix("3:5: unknown key \"prot\" in a listener") })
        #expect(rendered.contains { $0.hasPrefix("7:5: path /echo is mounted twice") })
        #expect(rendered.contains { $0 == "9:11: service path must start with /" })
        #expect(rendered.contains { $0.hasPrefix("10:11: unknown service type \"echoo\"") })
        #expect(rendered.contains { $0.hasPrefix("13:14: backend must be HOST:PORT") })
        #expect(rendered.contains { $0 == "15:20: max_connections must be a whole number" })
        #expect(rendered.contains { $0.hasPrefix("16:18: ping_interval must be a number of seconds") })
        #expect(rendered.contains { $0.hasPrefix("17:1: unknown key \"colour\" in the file") })
        #expect(found.count == 8, "\(rendered)")
    }

    @Test func yamlSyntaxErrorsAreReportedWithTheirLine() {
        let found = issues("services:\n  - path: /echo\n    type: [echo\n")
        #expect(found.count == 1)
        #expect(found.first.map { $0.line >= 3 && $0.message.hasPrefix("YAML:") } == true, "\(found)")
    }

    @Test func msrpService() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        services:
          - {path: /msrp, type: msrp, port: 2856, host: relay.example, realm: r, htdigest: /u, nonce_lifetime: 30, ca_file: /ca,
             max_websocket_message: 4096, transaction_timeout: 2.5, max_chunk_size: 4294967296}
        """)
        var expected = GatewayConfiguration.MSRP()
        expected.port = 2856
        expected.host = "relay.example"
        expected.realm = "r"
        expected.htdigest = "/u"
        expected.nonceLifetime = 30
        expected.caFile = "/ca"
        expected.maxWebSocketMessage = 4096
        expected.transactionTimeout = 2.5
        expected.maxChunkSize = 1 << 32
        #expect(c.services[0].kind == .msrp(expected))
        #expect(GatewayConfiguration.MSRP().maxChunkSize == 1 << 30)
        #expect(issues("services: [{path: /e, type: echo, max_chunk_size: 4096}]").first?.message == "max_chunk_size applies to msrp services only")
        #expect(issues("services: [{path: /m, type: msrp, htdigest: /u}]").first?.message == "msrp service /m: htdigest needs a realm")
        #expect(issues("services: [{path: /e, type: echo, realm: r}]").first?.message == "realm applies to msrp services only")
        #expect(issues("services: [{path: /m, type: msrp, transaction_timeout: 0}]").first?.message
                == "transaction_timeout must be more than 0 seconds")
    }

    @Test func monitoringEndpoints() throws {
        let moved = try GatewayConfiguration.parse(yaml: "metrics: {path: /stats}\nconsole: {path: /admin, live_path: /admin/live}")
        #expect(moved.monitoring.metricsPath == "/stats" && moved.monitoring.consolePath == "/admin"
                && moved.monitoring.consoleLivePath == "/admin/live")
        let off = try GatewayConfiguration.parse(yaml: "metrics: {enabled: false}\nconsole: {enabled: no}")
        #expect(off.monitoring.metricsPath == nil && off.monitoring.consolePath == nil)
        #expect(issues("metrics: {path: metrics}").map(\.description) == ["1:17: metrics.path must start with /"])
        #expect(issues("metrics: {path: /}").map(\.message) == ["metrics and console cannot share the path /"])
        #expect(issues("services: [{path: /console/live, type: echo}]").first?.message.hasPrefix(
            "/console/live is both a service and the console's live feed") == true)
        // With the console off, the path is free for a service.
        #expect(issues("services: [{path: /console/live, type: echo}]\nconsole: {enabled: false}").isEmpty)
    }

    @Test func ranges() {
        #expect(issues("listeners: [{port: 70000}]").map(\.message) == ["listener port must be between 0 and 65535, not 70000"])
        #expect(issues("services: [{path: /a, type: echo, compression: {server_max_window_bits: 7}}]").map(\.message)
                == ["server_max_window_bits must be between 8 and 15, not 7"])
        #expect(issues("listeners: []").map(\.message) == ["listeners: at least one is needed"])
        #expect(issues("log: {level: loud}").count == 1)
        #expect(issues("limits: {compressed_read_budget: 512}").map(\.message)
                == ["compressed_read_budget must be between 1024 and 1073741824, not 512"])
    }
}
