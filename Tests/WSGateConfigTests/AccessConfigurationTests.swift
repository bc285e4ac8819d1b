import Testing
import WSGateServices
import WebSocketEngine
@testable import WSGateConfig

/// `auth`, TCP-proxy `targets`, `tls.client_ca` and the MSRP relay's `allow_anonymous` in the file.
@Suite struct AccessConfigurationTests {
    func issues(_ yaml: String) -> [String] {
        do {
            _ = try GatewayConfiguration.parse(yaml: yaml)
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    @Test func everyAuthKeyIsRead() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        services:
          - path: /chat
            type: echo
            auth:
              jwt: {secret_file: /s, algorithms: [HS256], public_keys: [/k.pub], jwks_file: /j.json, issuer: [a, b],
                    audience: wsgate, leeway: 5, require_exp: true}
              api_key: {file: /keys}
              credentials: {header: false, query: t, cookie: off, subprotocol: false}
              require: {subjects: [alice], claims: {scope: [chat, vnc], room: "7"}}
        """)
        let auth = try #require(c.services[0].auth)
        var jwt = GatewayConfiguration.Auth.JWT(secretFile: "/s")
        jwt.algorithms = ["HS256"]
        jwt.publicKeyFiles = ["/k.pub"]
        jwt.jwksFile = "/j.json"
        jwt.issuers = ["a", "b"]
        jwt.audiences = ["wsgate"]
        jwt.leeway = 5
        jwt.requireExpiry = true
        #expect(auth.jwt == jwt && auth.apiKeyFile == "/keys" && !auth.mtls)
        #expect(auth.sources == CredentialSources(authorizationHeader: false, queryParameter: "t", cookie: nil, subprotocol: false))
        #expect(auth.subjects == ["alice"] && auth.requiredClaims == ["scope": ["chat", "vnc"], "room": ["7"]])
    }

    @Test func authMistakesAreReportedWithTheirLine() {
        let found = issues("""
        services:
          - path: /a
            type: echo
            auth: {}
          - path: /b
            type: echo
            auth: {jwt: {algorithms: [RS256]}}
          - path: /c
            type: echo
            auth: {mtls: true}
        """)
        #expect(found.contains("4:11: auth on /a names no method (jwt, api_key, mtls)"), "\(found)")
        #expect(found.contains { $0.hasPrefix("7:30: auth.jwt.algorithms lists the HMAC algorithms") }, "\(found)")
        #expect(found.contains { $0.hasPrefix("7:17: auth.jwt needs secret_file, public_keys or jwks_file") }, "\(found)")
        #expect(found.contains { $0.contains("a service with auth.mtls needs a listener with tls.client_ca") }, "\(found)")
    }

    @Test func mtlsWithAClientCA() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        listeners: [{host: 127.0.0.1, port: 8443, tls: {cert: /c.pem, key: /k.pem, client_ca: /ca.pem}}]
        services: [{path: /m, type: echo, auth: {mtls: {}}}]
        """)
        #expect(c.listeners[0].tls?.clientCAFile == "/ca.pem" && c.services[0].auth?.mtls == true)
    }

    @Test func proxyTargetsAndTheirSelector() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        services:
          - {path: /vnc, type: tcp-proxy, targets: {desk1: "127.0.0.1:5901", desk2: "[::1]:5902"}, target_from: path}
          - {path: /ssh, type: tcp-proxy, targets: {box: "10.0.0.2:22"}}
          - {path: /by-claim, type: tcp-proxy, targets: {box: "10.0.0.2:22"}, target_from: "claim:host", auth: {api_key: {file: /k}}}
        """)
        #expect(c.services[0].kind == .tcpProxyTargets(selector: .pathSegment, backends: [
            "desk1": .init(host: "127.0.0.1", port: 5901), "desk2": .init(host: "::1", port: 5902)]))
        #expect(c.services[1].kind == .tcpProxyTargets(selector: .query("token"), backends: ["box": .init(host: "10.0.0.2", port: 22)]))
        #expect(c.services[2].kind == .tcpProxyTargets(selector: .claim("host"), backends: ["box": .init(host: "10.0.0.2", port: 22)]))
        let found = issues("""
        services:
          - {path: /a, type: tcp-proxy, targets: {x: "nohost"}, target_from: "header:x"}
          - {path: /b, type: tcp-proxy, backend: "h:1", targets: {x: "h:2"}}
          - {path: /c, type: tcp-proxy, targets: {x: "h:2"}, target_from: "claim:t"}
          - {path: /d, type: echo, targets: {x: "h:2"}}
        """)
        #expect(found.contains { $0.contains("target x must be HOST:PORT") }, "\(found)")
        #expect(found.contains { $0.contains("target_from must be path, query:NAME or claim:NAME") }, "\(found)")
        #expect(found.contains { $0.contains("backend or targets, not both") }, "\(found)")
        #expect(found.contains { $0.contains("target_from: claim needs auth on /c") }, "\(found)")
        #expect(found.contains { $0.contains("targets and target_from apply to tcp-proxy services only") }, "\(found)")
    }

    @Test func aFileRelayForAnyoneMustSaySo() throws {
        #expect(issues("services: [{path: /m, type: msrp}]").first?.contains("would relay for anyone") == true)
        #expect(issues("services: [{path: /m, type: msrp, allow_anonymous: true}]").isEmpty)
        #expect(issues("services: [{path: /m, type: msrp, realm: r, htdigest: /u}]").isEmpty)
        #expect(issues("services: [{path: /m, type: msrp, auth: {jwt: {secret_file: /s}}}]").isEmpty)
        #expect(issues("services: [{path: /e, type: echo, allow_anonymous: true}]").first?.contains("applies to msrp services only") == true)
    }
}
