import Testing
@testable import MSRPEngine

/// The relay's decisions on the seed's flows (§8.1–8.4) and on what RFC 4976 makes it refuse.
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

    /// AUTH on `connection`; returns the session's Use-Path URI.
    mutating func auth(_ relay: inout MSRPRelay, from: String, on connection: Int, now: UInt64 = 1000) throws -> String {
        let actions = relay.received(Self.request("49fi", "AUTH", to: "msrps://alice@a.example.com:443;ws", from: from),
                                     on: connection, now: now, ha1For: { _ in nil }, generator: &rng)
        guard case .respond(connection, let ok)? = actions.first, ok.statusCode == 200 else {
            Issue.record("AUTH: \(actions)")
            return ""
        }
        return try #require(ok["Use-Path"])
    }

    @Test mutating func seed81AuthWithoutCredentials() throws {
        var relay = try Self.relay()
        let actions = relay.received(Self.request("49fi", "AUTH", to: "msrps://alice@a.example.com:443;ws", from: Self.alice),
                                     on: 1, now: 1000, ha1For: { _ in nil }, generator: &rng)
        guard case .respond(1, let ok) = actions[0] else { Issue.record("\(actions)"); return }
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
            relay.received(Self.request("a1b2", "AUTH", to: to, from: Self.alice, extra), on: c, now: now,
                           ha1For: { $0 == "alice" ? ha1 : nil }, generator: &rng)
        }
        guard case .respond(_, let challenge) = send([])[0], challenge.statusCode == 401,
              let params = Digest.parameters(challenge["WWW-Authenticate"] ?? "") else { Issue.record("no challenge"); return }
        func credentials(_ password: String) -> String {
            Digest.credentials(user: "alice", password: password, challenge: params, method: "AUTH", uri: to, cnonce: "x")!
        }
        guard case .respond(_, let tooShort) = send([("Authorization", credentials("pw")), ("Expires", "10")])[0] else { return }
        #expect(tooShort.statusCode == 423 && tooShort["Min-Expires"] == "60" && tooShort["Max-Expires"] == "3600")
        guard case .respond(_, let stale) = send([("Authorization", credentials("pw"))], now: 5000)[0] else { return }
        #expect(stale.statusCode == 401 && stale["WWW-Authenticate"]?.contains("stale=true") == true)
        guard case .respond(_, let ok) = send([("Authorization", credentials("pw")), ("Expires", "120")])[0] else { return }
        #expect(ok.statusCode == 200 && ok["Expires"] == "120")
        // A refresh keeps the session id.
        guard case .respond(_, let refreshed) = send([("Authorization", credentials("pw"))])[0] else { return }
        #expect(refreshed["Use-Path"] == ok["Use-Path"])
        // Wrong passwords: 403, then the connection is closed at the limit.
        let first = send([("Authorization", credentials("nope"))], on: 2)
        #expect(first.count == 1)
        if case .respond(_, let forbidden)? = first.first { #expect(forbidden.statusCode == 403) }
        let last = send([("Authorization", credentials("nope"))], on: 2)
        #expect(last.count == 2 && last[1] == .close(2, reason: "too many failed AUTH attempts"))
    }

    @Test mutating func seed82And83SendThroughTheRelayBothWays() throws {
        var relay = try Self.relay()
        let use = try auth(&relay, from: Self.alice, on: 1)
        let bob = "msrps://bob.example.com:8145/foo;tcp"
        // 8.2: Alice → relay → Bob (a remote endpoint).
        let out = relay.received(Self.request("6aef", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send), on: 1, now: 1001,
                                 ha1For: { _ in nil }, generator: &rng)
        #expect(out.count == 2)
        guard case .respond(1, let ok) = out[0], case .forward(let f3, .remote(let hop), _, 1) = out[1] else { Issue.record("\(out)"); return }
        #expect(ok.statusCode == 200 && ok["To-Path"] == Self.alice && ok["From-Path"] == use)
        #expect(hop == (try MSRPURI(parsing: bob)))
        #expect(f3.transactionID != "6aef" && f3["To-Path"] == bob && f3["From-Path"] == "\(use) \(Self.alice)")
        #expect(f3.fields.dropFirst(2).map(\.name) == ["Success-Report", "Byte-Range", "Message-ID", "Content-Type"])
        // 8.3: Bob (not authenticated here) → relay → Alice's WebSocket.
        let back = relay.received(Self.request("xght6", "SEND", to: "\(use) \(Self.alice)", from: bob, Self.send), on: 2, now: 1002,
                                  ha1For: { _ in nil }, generator: &rng)
        guard case .respond(2, let ok2) = back[0], case .forward(let f3b, .connection(1), _, 2) = back[1] else { Issue.record("\(back)"); return }
        #expect(ok2["To-Path"] == bob && ok2["From-Path"] == use)
        #expect(f3b["To-Path"] == Self.alice && f3b["From-Path"] == "\(use) \(bob)")
    }

    @Test mutating func seed84BetweenTwoWebSocketClientsOfOneRelay() throws {
        var relay = try Self.relay()
        let useA = try auth(&relay, from: Self.alice, on: 1)
        let useC = try auth(&relay, from: Self.carol, on: 3)
        let actions = relay.received(Self.request("kjh6", "SEND", to: "\(useA) \(useC) \(Self.carol)", from: Self.alice, Self.send),
                                     on: 1, now: 1001, ha1For: { _ in nil }, generator: &rng)
        guard case .forward(let f3, .connection(3), _, 1) = actions.last else { Issue.record("\(actions)"); return }
        #expect(f3["To-Path"] == Self.carol && f3["From-Path"] == "\(useC) \(useA) \(Self.alice)")
    }

    @Test mutating func refusals() throws {
        var relay = try Self.relay()
        let use = try auth(&relay, from: Self.alice, on: 1)
        func code(_ head: MSRPHead, on c: Int) -> Int? {
            let actions = relay.received(head, on: c, now: 1001, ha1For: { _ in nil }, generator: &rng)
            guard case .respond(_, let h)? = actions.first else { return nil }
            return h.statusCode
        }
        let bob = "msrp://bob.example.com:8145/foo;tcp"
        #expect(code(Self.request("t001", "SEND", to: "msrp://other.example:2855/x;tcp \(bob)", from: Self.alice, Self.send), on: 1) == 481)
        #expect(code(Self.request("t002", "SEND", to: "msrps://a.example.com:2855/unknown;tcp \(bob)", from: Self.alice, Self.send), on: 1) == 481)
        #expect(code(Self.request("t003", "SEND", to: "\(use) \(bob)", from: Self.alice, [("Message-ID", "1")]), on: 1) == 400)
        #expect(code(Self.request("t004", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send), on: 9) == 506)
        #expect(code(Self.request("t005", "SEND", to: "\(use) \(bob)", from: Self.carol, Self.send), on: 1) == 481)
        #expect(code(Self.request("t006", "SEND", to: "\(use) \(bob)", from: bob, Self.send), on: 9) == 481) // not to the bound client
        #expect(code(Self.request("t007", "FOO", to: use, from: Self.alice), on: 1) == 501)
        #expect(code(Self.request("t008", "SEND", to: "garbage", from: Self.alice, Self.send), on: 1) == 400)
        // Failure-Report: no → no response at all; partial → no 200; a REPORT is never answered.
        #expect(code(Self.request("t009", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send + [("Failure-Report", "no")]), on: 1) == nil)
        #expect(code(Self.request("t010", "SEND", to: "\(use) \(bob)", from: Self.alice, Self.send + [("Failure-Report", "partial")]), on: 1) == nil)
        #expect(code(Self.request("t011", "SEND", to: "\(use) x", from: Self.alice, Self.send + [("Failure-Report", "no")]), on: 1) == nil)
        #expect(code(Self.request("t012", "REPORT", to: "msrp://other.example:2855/x;tcp", from: Self.alice), on: 1) == nil)
        // The session ends with its connection, or when its AUTH expires.
        relay.connectionClosed(1)
        #expect(code(Self.request("t013", "SEND", to: "\(use) \(bob)", from: bob, Self.send), on: 2) == 481)
        _ = try auth(&relay, from: Self.carol, on: 4, now: 1000)
        relay.expire(now: 1000 + 900)
        #expect(relay.sessionCount == 0)
    }

    @Test mutating func failureReportGoesBackToTheSource() throws {
        let original = Self.request("6aef", "SEND", to: "msrps://a.example.com:2855/s1;tcp msrp://bob.example:1/x;tcp", from: Self.alice, Self.send)
        let report = try #require(MSRPRelay.failureReport(for: original, code: 408, comment: "Request Timeout", generator: &rng))
        #expect(report.method == "REPORT" && report["To-Path"] == Self.alice && report["From-Path"] == "msrps://a.example.com:2855/s1;tcp")
        #expect(report["Status"] == "000 408 Request Timeout" && report["Message-ID"] == "87652" && report["Byte-Range"] == "1-*/*")
        var no = original
        no["Failure-Report"] = "no"
        #expect(MSRPRelay.failureReport(for: no, code: 408, comment: "x", generator: &rng) == nil)
    }
}
