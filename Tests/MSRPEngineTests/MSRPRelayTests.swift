import Testing
@testable import MSRPEngine

/// The relay's decisions on the seed's flows (§8.1–8.4) and on what RFC 4976 makes it refuse. Every expectation
/// names the actions it wants: an action of another kind, or one too many, fails the test.
@Suite struct MSRPRelayTests {
    var rng = SystemRandomNumberGenerator()
    static let nonces = NonceIssuer(secret: Array("test".utf8))

    static func relay(realm: String? = nil) throws -> MSRPRelay {
        var c = MSRPRelay.Configuration(
            ownURIs: [try MSRPURI(parsing: "msrps://a.example.com:2855;tcp"), try MSRPURI(parsing: "msrps://a.example.com:443;ws")],
            usePathBase: try MSRPURI(parsing: "msrps://a.example.com:2855;tcp"), realm: realm)
        c.maxAuthFailures = 2
        return MSRPRelay(configuration: c, nonces: nonces)
    }

    static func request(_ tid: String, _ method: String, to: String, from: String, _ extra: [(String, String)] = []) -> MSRPHead {
        MSRPHead(transactionID: tid, startLine: .request(method: method),
                 fields: [.init("To-Path", to), .init("From-Path", from)] + extra.map { .init($0.0, $0.1) })
    }

    static let alice = "msrps://df7jal23ls0d.invalid:2855/98cjs;ws"
    static let carol = "msrps://jk9awp14vj8x.invalid:2855/76qwe;ws"
    static let send: [(String, String)] = [("Success-Report", "no"), ("Byte-Range", "1-*/*"), ("Message-ID", "87652"),
                                           ("Content-Type", "text/plain")]

    /// The single response among `actions`, on `connection`; fails the test when `actions` is anything else.
    static func response(_ actions: [MSRPRelay.Action], on connection: Int,
                         sourceLocation: SourceLocation = #_sourceLocation) throws -> MSRPHead {
        try #require(actions.count == 1, "\(actions)", sourceLocation: sourceLocation)
        guard case .respond(connection, let head) = actions[0] else {
            Issue.record("expected a response on \(connection): \(actions)", sourceLocation: sourceLocation)
            throw UnexpectedAction()
        }
        return head
    }

    struct UnexpectedAction: Error {}

    /// AUTH on `connection`; returns the session's Use-Path URI.
    mutating func auth(_ relay: inout MSRPRelay, from: String, on connection: Int, now: UInt64 = 1000) throws -> String {
        let actions = relay.received(Self.request("49fi", "AUTH", to: "msrps://alice@a.example.com:443;ws", from: from),
                                     on: connection, now: .seconds(now), ha1For: { _ in nil }, generator: &rng)
        let ok = try Self.response(actions, on: connection)
        try #require(ok.statusCode == 200, "AUTH: \(ok)")
        return try #require(ok["Use-Path"])
    }

    @Test mutating func seed81AuthWithoutCredentials() throws {
        var relay = try Self.relay()
        let actions = relay.received(Self.request("49fi", "AUTH", to: "msrps://alice@a.example.com:443;ws", from: Self.alice),
                                     on: 1, now: .seconds(1000), ha1For: { _ in nil }, generator: &rng)
        let ok = try Self.response(actions, on: 1)
        // F4: To-Path / From-Path swapped, Use-Path naming the relay's TCP/TLS listener with a new session id.
        #expect(ok.transactionID == "49fi" && ok.startLine == .response(code: 200, comment: "OK"))
        #expect(ok["To-Path"] == Self.alice && ok["From-Path"] == "msrps://alice@a.example.com:443;ws")
        let use = try MSRPURI(parsing: ok["Use-Path"]!)
        #expect(use.host == "a.example.com" && use.port == 2855 && use.transport == "tcp" && use.secure)
        #expect((use.sessionID?.count ?? 0) >= 14) // ≥ 80 bits
        #expect(ok["Expires"] == "900")
        #expect(relay.sessionCount == 1)
    }

    @Test mutating func digestChallengeExpiresBoundsAndRepeatedFailures() throws {
        var relay = try Self.relay(realm: "a.example.com")
        let ha1 = Digest.ha1(user: "alice", realm: "a.example.com", password: "pw")
        let to = "msrps://a.example.com:443;ws"
        func send(_ extra: [(String, String)], on c: Int = 1, now: UInt64 = 1000) -> [MSRPRelay.Action] {
            relay.received(Self.request("a1b2", "AUTH", to: to, from: Self.alice, extra), on: c, now: .seconds(now),
                           ha1For: { $0 == "alice" ? ha1 : nil }, generator: &rng)
        }
        let challenge = try Self.response(send([]), on: 1)
        #expect(challenge.statusCode == 401)
        let params = try #require(Digest.parameters(challenge["WWW-Authenticate"] ?? ""))
        func credentials(_ password: String) -> String {
            Digest.credentials(user: "alice", password: password, challenge: params, method: "AUTH", uri: to, cnonce: "x")!
        }
        let tooShort = try Self.response(send([("Authorization", credentials("pw")), ("Expires", "10")]), on: 1)
        #expect(tooShort.statusCode == 423 && tooShort["Min-Expires"] == "60" && tooShort["Max-Expires"] == "3600")
        let stale = try Self.response(send([("Authorization", credentials("pw"))], now: 5000), on: 1)
        #expect(stale.statusCode == 401 && stale["WWW-Authenticate"]?.contains("stale=true") == true)
        let ok = try Self.response(send([("Authorization", credentials("pw")), ("Expires", "120")]), on: 1)
        #expect(ok.statusCode == 200 && ok["Expires"] == "120")
        // A refresh keeps the session id.
        let refreshed = try Self.response(send([("Authorization", credentials("pw"))]), on: 1)
        #expect(refreshed.statusCode == 200 && refreshed["Use-Path"] == ok["Use-Path"])
        // Wrong passwords: 403, then the connection is closed at the limit.
        let forbidden = try Self.response(send([("Authorization", credentials("nope"))], on: 2), on: 2)
        #expect(forbidden.statusCode == 403)
        let last = send([("Authorization", credentials("nope"))], on: 2)
        try #require(last.count == 2, "\(last)")
        #expect(try Self.response([last[0]], on: 2).statusCode == 403)
        #expect(last[1] == .close(2, reason: "too many failed AUTH attempts"))
    }

    @Test mutating func seed82And83SendThroughTheRelayBothWays() throws {
        var relay = try Self.relay()
        let use = try auth(&relay, from: Self.alice, on: 1)
        let bob = "msrps://bob.example.com:8145/foo;tcp"
        // 8.2: Alice → relay → Bob (a remote endpoint).
        let out = relay.received(Self.request("6aef", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send), on: 1,
                                 now: .seconds(1001), ha1For: { _ in nil }, generator: &rng)
        try #require(out.count == 2, "\(out)")
        guard case .respond(1, let ok) = out[0], case .forward(let f3, .remote(let hop), _, 1) = out[1] else {
            Issue.record("\(out)")
            return
        }
        #expect(ok.statusCode == 200 && ok["To-Path"] == Self.alice && ok["From-Path"] == use)
        #expect(hop == (try MSRPURI(parsing: bob)))
        #expect(f3.transactionID != "6aef" && f3["To-Path"] == bob && f3["From-Path"] == "\(use) \(Self.alice)")
        #expect(f3.fields.dropFirst(2).map(\.name) == ["Success-Report", "Byte-Range", "Message-ID", "Content-Type"])
        // 8.3: Bob (not authenticated here) → relay → Alice's WebSocket.
        let back = relay.received(Self.request("xght6", "SEND", to: "\(use) \(Self.alice)", from: bob, Self.send), on: 2,
                                  now: .seconds(1002), ha1For: { _ in nil }, generator: &rng)
        try #require(back.count == 2, "\(back)")
        guard case .respond(2, let ok2) = back[0], case .forward(let f3b, .connection(1), _, 2) = back[1] else {
            Issue.record("\(back)")
            return
        }
        #expect(ok2["To-Path"] == bob && ok2["From-Path"] == use)
        #expect(f3b["To-Path"] == Self.alice && f3b["From-Path"] == "\(use) \(bob)")
    }

    @Test mutating func seed84BetweenTwoWebSocketClientsOfOneRelay() throws {
        var relay = try Self.relay()
        let useA = try auth(&relay, from: Self.alice, on: 1)
        let useC = try auth(&relay, from: Self.carol, on: 3)
        let actions = relay.received(Self.request("kjh6", "SEND", to: "\(useA) \(useC) \(Self.carol)", from: Self.alice, Self.send),
                                     on: 1, now: .seconds(1001), ha1For: { _ in nil }, generator: &rng)
        try #require(actions.count == 2, "\(actions)")
        guard case .respond(1, _) = actions[0], case .forward(let f3, .connection(3), _, 1) = actions[1] else {
            Issue.record("\(actions)")
            return
        }
        #expect(f3["To-Path"] == Self.carol && f3["From-Path"] == "\(useC) \(useA) \(Self.alice)")
    }

    @Test mutating func refusals() throws {
        var relay = try Self.relay()
        let use = try auth(&relay, from: Self.alice, on: 1)
        func actions(_ head: MSRPHead, on c: Int) -> [MSRPRelay.Action] {
            relay.received(head, on: c, now: .seconds(1001), ha1For: { _ in nil }, generator: &rng)
        }
        func code(_ head: MSRPHead, on c: Int) throws -> Int? {
            try Self.response(actions(head, on: c), on: c).statusCode
        }
        let bob = "msrp://bob.example.com:8145/foo;tcp"
        #expect(try code(Self.request("t001", "SEND", to: "msrp://other.example:2855/x;tcp \(bob)", from: Self.alice, Self.send), on: 1) == 481)
        #expect(try code(Self.request("t002", "SEND", to: "msrps://a.example.com:2855/unknown;tcp \(bob)", from: Self.alice, Self.send), on: 1) == 481)
        #expect(try code(Self.request("t003", "SEND", to: "\(use) \(bob)", from: Self.alice, [("Message-ID", "1")]), on: 1) == 400)
        #expect(try code(Self.request("t004", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send), on: 9) == 506)
        #expect(try code(Self.request("t005", "SEND", to: "\(use) \(bob)", from: Self.carol, Self.send), on: 1) == 481)
        #expect(try code(Self.request("t006", "SEND", to: "\(use) \(bob)", from: bob, Self.send), on: 9) == 481) // not to the bound client
        #expect(try code(Self.request("t007", "FOO", to: use, from: Self.alice), on: 1) == 501)
        #expect(try code(Self.request("t008", "SEND", to: "garbage", from: Self.alice, Self.send), on: 1) == 400)
        // Failure-Report: no → forwarded without a response; partial → forwarded without a 200.
        for report in ["no", "partial"] {
            let forwarded = actions(Self.request("t009", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send + [("Failure-Report", report)]), on: 1)
            try #require(forwarded.count == 1, "\(report): \(forwarded)")
            guard case .forward(_, .remote, _, 1) = forwarded[0] else { Issue.record("\(report): \(forwarded)"); continue }
        }
        // An error with Failure-Report: no goes unanswered; a REPORT is never answered, even when refused.
        #expect(actions(Self.request("t011", "SEND", to: "\(use) x", from: Self.alice, Self.send + [("Failure-Report", "no")]), on: 1) == [])
        #expect(actions(Self.request("t012", "REPORT", to: "msrp://other.example:2855/x;tcp", from: Self.alice), on: 1) == [])
        // The session ends with its connection, or when its AUTH expires.
        #expect(relay.connectionClosed(1, generator: &rng).isEmpty)
        #expect(try code(Self.request("t013", "SEND", to: "\(use) \(bob)", from: bob, Self.send), on: 2) == 481)
        _ = try auth(&relay, from: Self.carol, on: 4, now: 1000)
        relay.expireSessions(now: .seconds(1000 + 899))
        #expect(relay.sessionCount == 1)
        relay.expireSessions(now: .seconds(1000 + 900))
        #expect(relay.sessionCount == 0)
    }

    @Test func malformedInputIsAnswered400ThenClosed() throws {
        let relay = try Self.relay()
        let head = Self.request("m1", "SEND", to: "msrps://a.example.com:2855/s;tcp", from: Self.alice, Self.send)
        let answered = relay.malformed(partialHead: head, on: 5, reason: "body too long")
        try #require(answered.count == 2, "\(answered)")
        #expect(try Self.response([answered[0]], on: 5).statusCode == 400)
        #expect(answered[1] == .close(5, reason: "body too long"))
        // No head, or a REPORT's: closed without a word.
        #expect(relay.malformed(partialHead: nil, on: 5, reason: "x") == [.close(5, reason: "x")])
        #expect(relay.malformed(partialHead: Self.request("m2", "REPORT", to: "x", from: "y"), on: 5, reason: "x") == [.close(5, reason: "x")])
    }
}
