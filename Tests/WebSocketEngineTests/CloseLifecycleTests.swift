import Testing
import WebSocketEngine

/// Every path of `CloseLifecycle`, as the actions the transport must carry out.
@Suite struct CloseLifecycleTests {
    typealias Outcome = CloseLifecycle.Outcome

    static let rfc6455End = Outcome(code: 1006, reason: "", wasClean: false)

    static func lifecycle(_ role: WebSocketRole, dropping: Bool = false, end: Outcome = rfc6455End,
                          lingerLimit: Int = 1000) -> CloseLifecycle {
        CloseLifecycle(configuration: .init(role: role, closesByDroppingConnection: dropping, endOfStream: end,
                                            lingerByteLimit: lingerLimit))
    }

    /// A failure's close, then the lingering close.
    static func failureActions(_ frame: CloseFrame) -> [CloseLifecycle.Action] {
        [.cancelTimer, .writeClose(frame), .halfCloseAfterWrites, .startTimer, .keepReading]
    }

    // MARK: The peer closes

    @Test func serverClosesTCPOnceItsReplyToThePeersCloseIsWritten() {
        var l = Self.lifecycle(.server)
        #expect(l.closeCompleted(CloseFrame(code: .goingAway, reason: "bye"), initiatedByPeer: true) == [.cancelTimer, .closeAfterWrites])
        #expect(l.state == .closing)
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1001, reason: "bye", wasClean: true),
                                                                 code: 1001, initiator: .peer)])
    }

    @Test func clientWaitsBoundedForTheServerToCloseTCP() {
        var l = Self.lifecycle(.client)
        #expect(l.closeCompleted(CloseFrame(code: .normalClosure), initiatedByPeer: true) == [.flush, .startTimer])
        #expect(l.state == .awaitingServerClose)
        #expect(l.timerFired() == [.closeNow])
        // The handshake completed, so the close stays clean even though the client closed TCP itself.
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1000, reason: "", wasClean: true),
                                                                 code: 1000, initiator: .peer)])
    }

    @Test func aCloseFrameWithoutCodeIsReportedAs1005() {
        var l = Self.lifecycle(.server)
        _ = l.closeCompleted(CloseFrame(code: nil), initiatedByPeer: true)
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1005, reason: "", wasClean: true),
                                                                 code: 1005, initiator: .peer)])
    }

    // MARK: We close

    @Test func serviceCloseWaitsForThePeersReplyThenTheServerClosesTCP() {
        var l = Self.lifecycle(.server)
        let frame = CloseFrame(code: .goingAway, reason: "server shutting down")
        #expect(l.closeRequested(code: .goingAway, reason: "server shutting down") == [.writeClose(frame), .flush, .startTimer, .keepReading])
        #expect(l.state == .closeSent)
        #expect(l.closeRequested(code: .normalClosure, reason: "again") == [], "a second close is ignored")
        #expect(l.closeCompleted(CloseFrame(code: .goingAway), initiatedByPeer: false) == [.cancelTimer, .closeAfterWrites])
        // Counted under the gateway's code; the service hears the peer's reply.
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1001, reason: "", wasClean: true),
                                                                 code: 1001, initiator: .local)])
    }

    @Test func aPeerThatNeverAnswersOurCloseEndsAs1006() {
        var l = Self.lifecycle(.server)
        _ = l.closeRequested(code: .policyViolation, reason: "send queue limit exceeded")
        #expect(l.timerFired() == [.closeNow])
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Self.rfc6455End, code: 1008, initiator: .local)])
    }

    @Test func serverOfAWireWithoutCloseFrameClosesTCPOnceItsWritesAreOut() {
        var l = Self.lifecycle(.server, dropping: true, end: Outcome(code: 1005, reason: "", wasClean: true))
        #expect(l.closeRequested(code: .normalClosure, reason: "done") == [.writeClose(CloseFrame(code: .normalClosure, reason: "done")),
                                                                            .closeAfterWrites])
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1000, reason: "done", wasClean: true),
                                                                 code: 1000, initiator: .local)])
    }

    @Test func clientOfAWireWithoutCloseFrameHalfClosesAndReadsUntilTheServerCloses() {
        var l = Self.lifecycle(.client, dropping: true)
        #expect(l.closeRequested(code: .normalClosure, reason: "") == [.writeClose(CloseFrame(code: .normalClosure)),
                                                                        .halfCloseAfterWrites, .startTimer, .keepReading])
        #expect(l.state == .halfClosed)
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1000, reason: "", wasClean: true),
                                                                 code: 1000, initiator: .local)])
    }

    @Test func aServerThatNeverClosesAfterTheHalfCloseIsNoCleanClose() {
        var l = Self.lifecycle(.client, dropping: true)
        _ = l.closeRequested(code: .normalClosure, reason: "")
        #expect(l.timerFired() == [.closeNow])
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1006, reason: "the server did not close in time",
                                                                         wasClean: false), code: 1000, initiator: .local)])
    }

    @Test func aWSRPeersDeleteStreamIsAPeerClose() {
        var l = Self.lifecycle(.server, dropping: true)
        #expect(l.closeCompleted(CloseFrame(code: nil), initiatedByPeer: true) == [.cancelTimer, .closeAfterWrites])
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1005, reason: "", wasClean: true),
                                                                 code: 1005, initiator: .peer)])
    }

    // MARK: The peer breaks the protocol

    @Test func aFailureSendsItsCloseThenLingersUntilThePeersEOF() {
        var l = Self.lifecycle(.server, lingerLimit: 100)
        let frame = CloseFrame(code: .messageTooBig, reason: "message exceeds the limit")
        #expect(l.protocolFailed(code: .messageTooBig, reason: "message exceeds the limit", serviceBusy: false) == Self.failureActions(frame))
        #expect(l.isLingering)
        #expect(l.closeRequested(code: .normalClosure, reason: "") == [], "no close after a failure")
        #expect(l.discarded(bytes: 60) == [])
        #expect(l.discarded(bytes: 40) == [], "the limit itself is still discarded")
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1009, reason: "message exceeds the limit", wasClean: false),
                                                                 code: 1009, initiator: .local)])
    }

    @Test func lingeringEndsPastTheByteLimit() {
        var l = Self.lifecycle(.server, lingerLimit: 100)
        _ = l.protocolFailed(code: .protocolError, reason: "x", serviceBusy: false)
        #expect(l.discarded(bytes: 101) == [.closeNow])
        #expect(!l.isLingering)
        #expect(l.discarded(bytes: 1) == [])
    }

    @Test func lingeringEndsWhenTheTimerFires() {
        var l = Self.lifecycle(.client)
        _ = l.protocolFailed(code: .invalidFramePayloadData, reason: "bad UTF-8", serviceBusy: false)
        #expect(l.timerFired() == [.closeNow])
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1007, reason: "bad UTF-8", wasClean: false),
                                                                 code: 1007, initiator: .local)])
    }

    @Test func aBusyServiceFinishesWithWhatItWasGivenBeforeTheFailureGoesOut() {
        var l = Self.lifecycle(.server)
        #expect(l.protocolFailed(code: .protocolError, reason: "reserved opcode", serviceBusy: true) == [.startTimer])
        #expect(l.state == .failing)
        #expect(l.closeRequested(code: .normalClosure, reason: "") == [])
        #expect(l.inboundDrained() == Self.failureActions(CloseFrame(code: .protocolError, reason: "reserved opcode")))
        #expect(l.inboundDrained() == [], "drained once")
    }

    @Test func aServiceThatNeverDrainsIsFailedWhenTheTimerFires() {
        var l = Self.lifecycle(.server)
        _ = l.protocolFailed(code: .protocolError, reason: "fragmented control frame", serviceBusy: true)
        #expect(l.timerFired() == Self.failureActions(CloseFrame(code: .protocolError, reason: "fragmented control frame")))
    }

    @Test func garbageAfterOurCloseIsAFailureToo() {
        var l = Self.lifecycle(.server)
        _ = l.closeRequested(code: .goingAway, reason: "")
        // The engine refuses the second close frame itself; the lifecycle still lingers and reports the failure.
        #expect(l.protocolFailed(code: .protocolError, reason: "unmasked frame", serviceBusy: true)
            == Self.failureActions(CloseFrame(code: .protocolError, reason: "unmasked frame")))
        #expect(l.endOfStream() == [.cancelTimer, .notifyClosed(Outcome(code: 1002, reason: "unmasked frame", wasClean: false),
                                                                 code: 1001, initiator: .local)])
    }

    // MARK: The TCP connection ends

    @Test func aBareEndOfStreamIsWhatTheWireSaysItMeans() {
        var rfc = Self.lifecycle(.server)
        #expect(rfc.endOfStream() == [.cancelTimer, .notifyClosed(Self.rfc6455End, code: 1006, initiator: .peer)])
        let hixie75End = Outcome(code: 1005, reason: "", wasClean: true)
        var hixie = Self.lifecycle(.server, dropping: true, end: hixie75End)
        #expect(hixie.endOfStream() == [.cancelTimer, .notifyClosed(hixie75End, code: 1005, initiator: .peer)])
    }

    @Test func theServiceIsToldOnceAndNothingHappensAfterwards() {
        var l = Self.lifecycle(.server)
        _ = l.endOfStream()
        #expect(l.endOfStream() == [])
        #expect(l.closeRequested(code: .normalClosure, reason: "") == [])
        #expect(l.closeCompleted(CloseFrame(code: .normalClosure), initiatedByPeer: true) == [])
        #expect(l.protocolFailed(code: .protocolError, reason: "", serviceBusy: false) == [])
        #expect(l.timerFired() == [])
        #expect(l.inboundDrained() == [])
    }

    @Test func theConfigurationFollowsTheEngine() {
        let v75 = CloseLifecycle.Configuration(for: HixieConnection(draft: .hixie75, role: .client), lingerByteLimit: 1)
        #expect(v75.closesByDroppingConnection && v75.role == .client && v75.endOfStream == Outcome(code: 1005, reason: "", wasClean: true))
        let rfc = CloseLifecycle.Configuration(for: RFC6455Connection(role: .server), lingerByteLimit: 1)
        #expect(!rfc.closesByDroppingConnection && rfc.role == .server && rfc.endOfStream == Self.rfc6455End)
    }
}
