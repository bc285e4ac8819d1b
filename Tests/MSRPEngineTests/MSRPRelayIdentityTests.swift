import Testing
@testable import MSRPEngine

/// AUTH on a connection whose WebSocket handshake authenticated it (RFC 7977 §5.3.1), and the relay that admits
/// no anonymous AUTH.
@Suite struct MSRPRelayIdentityTests {
    var rng = SystemRandomNumberGenerator()

    static func relay(realm: String? = nil, anonymous: Bool) throws -> MSRPRelay {
        var relay = try MSRPRelayTests.relay(realm: realm)
        relay.configuration.allowsAnonymousAUTH = anonymous
        return relay
    }

    mutating func auth(_ relay: inout MSRPRelay, on connection: Int) throws -> MSRPHead {
        try MSRPRelayTests.response(relay.received(
            MSRPRelayTests.request("49fi", "AUTH", to: "msrps://alice@a.example.com:443;ws", from: MSRPRelayTests.alice),
            on: connection, now: .seconds(1000), ha1For: { _ in nil }, generator: &rng), on: connection)
    }

    @Test mutating func aHandshakeIdentityIsAdmittedWithoutDigestAndOwnsItsSession() throws {
        var relay = try Self.relay(realm: "a.example.com", anonymous: false)
        relay.connectionAuthenticated(1, as: "alice")
        let ok = try auth(&relay, on: 1)
        #expect(ok.statusCode == 200)
        let usePath = try #require(ok["Use-Path"])
        let sid = try #require(try MSRPURI(parsing: usePath).sessionID)
        #expect(relay.owner(ofSession: sid) == .some("alice"))
        // Another connection without an identity still meets the Digest challenge.
        #expect(try auth(&relay, on: 2).statusCode == 401)
    }

    @Test mutating func withoutDigestOrIdentityAnonymousAUTHIsRefusedUnlessAllowed() throws {
        var strict = try Self.relay(anonymous: false)
        #expect(try auth(&strict, on: 1).statusCode == 403)
        #expect(strict.sessionCount == 0)
        strict.connectionAuthenticated(2, as: "bob")
        #expect(try auth(&strict, on: 2).statusCode == 200)

        var open = try Self.relay(anonymous: true)
        let ok = try auth(&open, on: 1)
        #expect(ok.statusCode == 200)
        let usePath = try #require(ok["Use-Path"])
        let sid = try #require(try MSRPURI(parsing: usePath).sessionID)
        #expect(open.owner(ofSession: sid) == .some(nil))
    }

    @Test mutating func theIdentityLeavesWithItsConnection() throws {
        var relay = try Self.relay(anonymous: false)
        relay.connectionAuthenticated(1, as: "alice")
        #expect(relay.connectionClosed(1, generator: &rng).isEmpty)
        #expect(try auth(&relay, on: 1).statusCode == 403)
    }
}
