import Foundation
import Testing
import WebSocketAPI
import WSGateServices
@testable import WSGateConfig

/// What several nodes behind a load balancer configure: the address a WSR create advertises, the MSRP nonce key
/// they share, and broadcast topics with publish / subscribe permissions.
@Suite struct ClusterConfigurationTests {
    func issues(_ yaml: String) -> [String] {
        do {
            _ = try GatewayConfiguration.parse(yaml: yaml)
            return []
        } catch {
            return error.issues.map(\.message)
        }
    }

    @Test func advertiseIsReadAndReachesTheServerConfiguration() throws {
        let c = try GatewayConfiguration.parse(yaml: "listeners: [{port: 9001, advertise: \"10.0.0.2:9001\"}]")
        #expect(c.listeners[0].advertise == "10.0.0.2:9001")
        #expect(try c.makeServerConfigurations()[0].wsrAdvertisedAddress == "10.0.0.2:9001")
        #expect(try GatewayConfiguration.default.makeServerConfigurations()[0].wsrAdvertisedAddress == nil)
        #expect(issues("listeners: [{advertise: node-a}]") == ["advertise must be HOST:PORT, not node-a"])
        #expect(issues("listeners: [{advertise: \"h:0\"}]") == ["advertise must be HOST:PORT, not h:0"])
    }

    @Test func theNonceSecretFileIsReadTrimmedAndMustBeLongEnough() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("wsgate-nonce-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let good = dir.appendingPathComponent("good").path
        try "0123456789abcdef0123\n".write(toFile: good, atomically: true, encoding: .utf8)
        let short = dir.appendingPathComponent("short").path
        try "tooshort\n\n".write(toFile: short, atomically: true, encoding: .utf8)

        #expect(try GatewayConfiguration.readNonceSecret(good) == Array("0123456789abcdef0123".utf8))
        #expect(throws: RuntimeError.self) { try GatewayConfiguration.readNonceSecret(short) }
        #expect(throws: RuntimeError.self) { try GatewayConfiguration.readNonceSecret(dir.appendingPathComponent("none").path) }

        let c = try GatewayConfiguration.parse(yaml: """
        services: [{path: /msrp, type: msrp, allow_anonymous: true, nonce_secret_file: \(good)}]
        """)
        guard case .msrp(let options) = c.services[0].kind else { Issue.record("not an msrp service"); return }
        #expect(options.nonceSecretFile == good)
        try c.checkMSRPFiles()
        let relays = try c.makeMSRPRelays(logger: .init(label: "test"))
        #expect(relays["/msrp"]?.relay.settings.nonceSecret == Array("0123456789abcdef0123".utf8))

        let bad = try GatewayConfiguration.parse(yaml: "services: [{path: /msrp, type: msrp, allow_anonymous: true, nonce_secret_file: \(short)}]")
        #expect(throws: RuntimeError.self) { try bad.checkMSRPFiles() }
        #expect(issues("services: [{path: /e, type: echo, nonce_secret_file: /x}]") == ["nonce_secret_file applies to msrp services only"])
    }

    @Test func broadcastTopicsAndPermissionsAreRead() throws {
        let c = try GatewayConfiguration.parse(yaml: """
        services:
          - {path: /a, type: broadcast, topics: true}
          - {path: /b, type: broadcast, topics: {max: 5, max_name_length: 10}, publish: nobody}
          - path: /c
            type: broadcast
            auth: {api_key: {file: /keys}}
            publish: {claims: {scope: [publish]}}
            subscribe: {subjects: [alice, bob]}
          - {path: /d, type: broadcast}
        """)
        var a = GatewayConfiguration.Broadcast(topics: .default)
        #expect(c.services[0].kind == .broadcast(a))
        a.topics = .init(maxTopics: 5, maxNameLength: 10)
        a.publish = .nobody
        #expect(c.services[1].kind == .broadcast(a))
        guard case .broadcast(let third) = c.services[2].kind else { Issue.record("not a broadcast"); return }
        #expect(third.publish == .requires(.init(claims: ["scope": ["publish"]])))
        #expect(third.subscribe == .requires(.init(subjects: ["alice", "bob"])))
        #expect(c.services[3].kind == .broadcast(.init()), "no topics unless asked for")
        #expect(GatewayConfiguration.default.services[1].kind == .broadcast(.init(topics: .default)),
                "the embedded /broadcast has named topics")

        // The permission, as the service checks it against an identity.
        let publisher = WebSocketIdentity(method: "api_key", subject: "carol", claims: ["scope": .string("publish")])
        #expect(third.settings.publish.grants(publisher))
        #expect(!third.settings.subscribe.grants(publisher))
        #expect(!third.settings.publish.grants(nil))
    }

    @Test func broadcastMistakesAreReported() {
        #expect(issues("services: [{path: /b, type: broadcast, publish: {claims: {scope: [p]}}}]")
            == ["publish on /b names who may, which needs auth on the service (the handshake identity)"])
        #expect(issues("services: [{path: /b, type: broadcast, publish: nobody, subscribe: nobody}]")
            == ["broadcast service /b: nobody may publish or subscribe"])
        #expect(issues("services: [{path: /b, type: broadcast, publish: everyone}]")
            == ["publish must be anyone, nobody, or {subjects, claims}"])
        #expect(issues("services: [{path: /e, type: echo, topics: true}]") == ["topics applies to broadcast services only"])
        #expect(issues("services: [{path: /b, type: broadcast, topics: {max: 0}}]").count == 1)
    }
}
