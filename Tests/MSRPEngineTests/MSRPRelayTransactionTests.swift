import Testing
@testable import MSRPEngine

/// What the relay does after it forwarded a request (RFC 4975 §7.1.1, RFC 4976): a next hop's error, its silence
/// past the transaction timeout, or a next hop that cannot be reached becomes a failure REPORT back to the source
/// — `Status: 000 <code>`, the original Message-ID and Byte-Range, To-Path the source's From-Path — as far as the
/// request's Failure-Report asks for one.
@Suite struct MSRPRelayTransactionTests {
    var rng = SystemRandomNumberGenerator()
    static let alice = MSRPRelayTests.alice
    static let bob = "msrp://bob.example.com:8145/foo;tcp"
    static let source = 1
    static let nextHop = 7
    static let sentAt = MSRPInstant.seconds(1001)

    /// A relay with Alice authenticated on connection 1, and her SEND (with `failureReport`, when given) forwarded
    /// to Bob over connection 7 at `sentAt`. Returns the relay, the forwarded head and Alice's original.
    mutating func forwarded(failureReport: String? = nil, timeout: Duration? = nil) throws -> (MSRPRelay, sent: MSRPHead, original: MSRPHead) {
        var relay = try MSRPRelayTests.relay()
        if let timeout { relay.configuration.transactionTimeout = timeout }
        let auth = relay.received(MSRPRelayTests.request("49fi", "AUTH", to: "msrps://a.example.com:443;ws", from: Self.alice),
                                  on: Self.source, now: .seconds(1000), ha1For: { _ in nil }, generator: &rng)
        let use = try #require(try MSRPRelayTests.response(auth, on: Self.source)["Use-Path"])
        let original = MSRPRelayTests.request("6aef", "SEND", to: "\(use) \(Self.bob)", from: Self.alice,
                                              MSRPRelayTests.send + (failureReport.map { [("Failure-Report", $0)] } ?? []))
        let actions = relay.received(original, on: Self.source, now: Self.sentAt, ha1For: { _ in nil }, generator: &rng)
        guard case .forward(let sent, .remote, original, Self.source)? = actions.last else {
            Issue.record("expected a forward to Bob: \(actions)")
            throw MSRPRelayTests.UnexpectedAction()
        }
        relay.sent(sent, on: Self.nextHop, original: original, from: Self.source, now: Self.sentAt)
        return (relay, sent, original)
    }

    static func response(to sent: MSRPHead, _ code: Int, _ comment: String) -> MSRPHead {
        MSRPHead(transactionID: sent.transactionID, startLine: .response(code: code, comment: comment),
                 fields: [.init("To-Path", "msrps://a.example.com:2855/s;tcp"), .init("From-Path", bob)])
    }

    mutating func deliver(_ response: MSRPHead, to relay: inout MSRPRelay, on connection: Int = nextHop) -> [MSRPRelay.Action] {
        relay.received(response, on: connection, now: .seconds(1002), ha1For: { _ in nil }, generator: &rng)
    }

    /// The single failure REPORT among `actions`, to the source; fails the test when `actions` is anything else.
    static func report(_ actions: [MSRPRelay.Action], sourceLocation: SourceLocation = #_sourceLocation) throws -> MSRPHead {
        try #require(actions.count == 1, "\(actions)", sourceLocation: sourceLocation)
        guard case .report(source, let head) = actions[0] else {
            Issue.record("expected a REPORT to the source: \(actions)", sourceLocation: sourceLocation)
            throw MSRPRelayTests.UnexpectedAction()
        }
        return head
    }

    /// The fields RFC 4975 §7.1.2 gives a REPORT, here for Alice's SEND (Message-ID 87652, Byte-Range 1-*/*).
    static func expectReport(_ report: MSRPHead, status: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(report.method == "REPORT", sourceLocation: sourceLocation)
        #expect(report["To-Path"] == alice, sourceLocation: sourceLocation)
        #expect(report["From-Path"]?.hasPrefix("msrps://a.example.com:2855/") == true, sourceLocation: sourceLocation)
        #expect(report["Message-ID"] == "87652" && report["Byte-Range"] == "1-*/*", sourceLocation: sourceLocation)
        #expect(report["Status"] == status, sourceLocation: sourceLocation)
        #expect(report.transactionID != "6aef", sourceLocation: sourceLocation)
    }

    @Test mutating func aNextHopsErrorIsReportedWithTheOriginalMessageIDAndByteRange() throws {
        var (relay, sent, _) = try forwarded()
        // A response from elsewhere does not settle the transaction (responses are hop by hop).
        #expect(deliver(Self.response(to: sent, 403, "Forbidden"), to: &relay, on: 8) == [])
        #expect(relay.pendingTransactionCount == 1)
        let report = try Self.report(deliver(Self.response(to: sent, 403, "Forbidden"), to: &relay))
        Self.expectReport(report, status: "000 403 Forbidden")
        // Settled: no second REPORT for it, not even when its deadline passes.
        #expect(deliver(Self.response(to: sent, 403, "Forbidden"), to: &relay) == [])
        #expect(relay.pendingTransactionCount == 0 && relay.nextTransactionDeadline() == nil)
        #expect(relay.expireTransactions(now: Self.sentAt + .seconds(60), generator: &rng) == [])
    }

    @Test mutating func aNextHopsOKSettlesTheTransactionQuietly() throws {
        var (relay, sent, _) = try forwarded()
        #expect(deliver(Self.response(to: sent, 200, "OK"), to: &relay) == [])
        #expect(relay.expireTransactions(now: Self.sentAt + .seconds(60), generator: &rng) == [])
    }

    @Test mutating func aSilentNextHopGets408AfterThirtySeconds() throws {
        var (relay, _, _) = try forwarded()
        #expect(relay.nextTransactionDeadline() == Self.sentAt + .seconds(30))
        #expect(relay.expireTransactions(now: Self.sentAt + .milliseconds(29_999), generator: &rng) == [])
        let report = try Self.report(relay.expireTransactions(now: Self.sentAt + .seconds(30), generator: &rng))
        Self.expectReport(report, status: "000 408 Request Timeout")
        #expect(relay.pendingTransactionCount == 0 && relay.nextTransactionDeadline() == nil)
    }

    @Test mutating func theTimeoutIsConfigurable() throws {
        var (relay, _, _) = try forwarded(timeout: .milliseconds(1500))
        #expect(relay.nextTransactionDeadline() == MSRPInstant(nanoseconds: Self.sentAt.nanoseconds + 1_500_000_000))
        #expect(relay.expireTransactions(now: Self.sentAt + .milliseconds(1499), generator: &rng) == [])
        Self.expectReport(try Self.report(relay.expireTransactions(now: Self.sentAt + .milliseconds(1500), generator: &rng)),
                          status: "000 408 Request Timeout")
    }

    @Test mutating func failureReportPartialReportsErrorsButTakesSilenceForSuccess() throws {
        var (silent, _, _) = try forwarded(failureReport: "partial")
        #expect(silent.pendingTransactionCount == 1)
        #expect(silent.expireTransactions(now: Self.sentAt + .seconds(30), generator: &rng) == [])
        #expect(silent.pendingTransactionCount == 0)
        var (refused, sent, _) = try forwarded(failureReport: "partial")
        Self.expectReport(try Self.report(deliver(Self.response(to: sent, 415, "Unsupported Media Type"), to: &refused)),
                          status: "000 415 Unsupported Media Type")
    }

    @Test mutating func failureReportNoIsNeverReported() throws {
        var (relay, sent, original) = try forwarded(failureReport: "no")
        #expect(relay.pendingTransactionCount == 0 && relay.nextTransactionDeadline() == nil)
        #expect(deliver(Self.response(to: sent, 403, "Forbidden"), to: &relay) == [])
        #expect(relay.expireTransactions(now: Self.sentAt + .seconds(30), generator: &rng) == [])
        #expect(relay.forwardFailed(original, from: Self.source, because: .unreachable, generator: &rng) == [])
    }

    @Test mutating func anUnreachableOrVanishedNextHopIsReported481() throws {
        var (relay, _, original) = try forwarded()
        Self.expectReport(try Self.report(relay.forwardFailed(original, from: Self.source, because: .unreachable, generator: &rng)),
                          status: "000 481 Next Hop Unreachable")
        Self.expectReport(try Self.report(relay.forwardFailed(original, from: Self.source, because: .connectionGone, generator: &rng)),
                          status: "000 481 Session Does Not Exist")
    }

    @Test mutating func aNextHopThatVanishesIsReportedAtOnceNotAtItsDeadline() throws {
        var (relay, _, _) = try forwarded()
        // Another connection closing settles nothing; the next hop's connection closing fails what went out on it.
        #expect(relay.connectionClosed(8, generator: &rng) == [])
        Self.expectReport(try Self.report(relay.connectionClosed(Self.nextHop, generator: &rng)),
                          status: "000 408 Next Hop Connection Lost")
        #expect(relay.pendingTransactionCount == 0)
        #expect(relay.expireTransactions(now: Self.sentAt + .seconds(30), generator: &rng) == [])
        var (quiet, _, _) = try forwarded(failureReport: "no")
        #expect(quiet.connectionClosed(Self.nextHop, generator: &rng) == [])
    }

    @Test mutating func everyPieceOfARechunkedRequestIsAnsweredFor() throws {
        var (relay, sent, original) = try forwarded()
        var second = sent
        second.transactionID = "piece2piece2"
        relay.sent(second, on: Self.nextHop, original: original, from: Self.source, now: Self.sentAt + .seconds(1))
        #expect(deliver(Self.response(to: sent, 200, "OK"), to: &relay) == [])
        // The first piece answered: the timer is for the second, and only it times out.
        #expect(relay.nextTransactionDeadline() == Self.sentAt + .seconds(31))
        #expect(relay.expireTransactions(now: Self.sentAt + .seconds(30), generator: &rng) == [])
        Self.expectReport(try Self.report(relay.expireTransactions(now: Self.sentAt + .seconds(31), generator: &rng)),
                          status: "000 408 Request Timeout")
    }

    @Test mutating func reportsAreNotAwaited() throws {
        var (relay, _, original) = try forwarded()
        let report = MSRPRelayTests.request("r1r1", "REPORT", to: Self.bob, from: Self.alice, [("Message-ID", "1"), ("Status", "000 200 OK")])
        relay.sent(report, on: Self.nextHop, original: original, from: Self.source, now: Self.sentAt)
        #expect(relay.pendingTransactionCount == 1) // the SEND only
    }

    @Test mutating func answeredTransactionsDoNotHoldTheTimerOrMemory() throws {
        var (relay, sent, original) = try forwarded()
        #expect(deliver(Self.response(to: sent, 200, "OK"), to: &relay) == [])
        for i in 0..<5000 {
            var piece = sent
            piece.transactionID = "t\(i)xxxx"
            relay.sent(piece, on: Self.nextHop, original: original, from: Self.source, now: Self.sentAt)
            #expect(deliver(Self.response(to: piece, 200, "OK"), to: &relay) == [])
        }
        #expect(relay.pendingTransactionCount == 0 && relay.nextTransactionDeadline() == nil)
        #expect(relay.deadlines.heldCount < 2048)
    }
}
