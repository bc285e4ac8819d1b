import NIOCore
import Testing
import WSGateConnect
import WebSocketAPI
import WebSocketEngine

/// `ConnectSession` driven with made-up events and times: what `wsgate connect` does is decided here.
@Suite struct ConnectSessionTests {
    typealias Action = ConnectSession.Action

    func session(_ configure: (inout ConnectSettings) -> Void = { _ in }) -> ConnectSession {
        var settings = ConnectSettings()
        configure(&settings)
        return ConnectSession(settings: settings)
    }

    let clean = WebSocketCloseInfo(code: 1000, reason: "", wasClean: true)
    let dropped = WebSocketCloseInfo(code: 1006, reason: "", wasClean: false)

    @Test func linesAreReadOneAtATimeAndSentInOrder() {
        var s = session()
        #expect(s.start() == [.connect(after: .zero)])
        #expect(s.handle(.connected, now: .zero) == [.readLine])
        #expect(s.handle(.line("one"), now: .zero) == [.send(.text("one")), .readLine])
        #expect(s.handle(.line("two"), now: .zero) == [.send(.text("two")), .readLine])
    }

    @Test func afterStdinEndsItWaitsForRepliesUntilQuietForTheLinger() {
        var s = session { $0.linger = .seconds(1) }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        _ = s.handle(.line("hello"), now: .zero)
        #expect(s.handle(.stdinEnded, now: .milliseconds(10)) == [])
        #expect(s.handle(.tick, now: .milliseconds(500)) == [])
        // The reply comes late: the linger starts again from it.
        #expect(s.handle(.message(.text("hello")), now: .milliseconds(900)) == [.printMessage(.text("hello"))])
        #expect(s.handle(.tick, now: .milliseconds(1500)) == [])
        #expect(s.handle(.tick, now: .milliseconds(1900)) == [.close(.normalClosure, reason: "")])
        #expect(s.handle(.tick, now: .milliseconds(2500)) == [])
        #expect(s.handle(.closed(clean), now: .seconds(3)) == [.printClose(clean), .exit(.clean)])
    }

    @Test func onceSendsOneLinePrintsOneMessageAndCloses() {
        var s = session { $0.once = true }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.line("ping"), now: .zero) == [.send(.text("ping"))])  // no second line is read
        #expect(s.handle(.message(.text("pong")), now: .zero) == [.printMessage(.text("pong")), .close(.normalClosure, reason: "")])
        #expect(s.handle(.message(.text("late")), now: .zero) == [])  // one reply printed, no more
        #expect(s.handle(.closed(clean), now: .zero) == [.printClose(clean), .exit(.clean)])
    }

    @Test func maxMessagesClosesAtTheCount() {
        var s = session { $0.maxMessages = 2 }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.message(.text("a")), now: .zero) == [.printMessage(.text("a"))])
        #expect(s.handle(.message(.text("b")), now: .zero) == [.printMessage(.text("b")), .close(.normalClosure, reason: "")])
        #expect(s.handle(.message(.text("c")), now: .zero) == [])
    }

    @Test func noCloseReadsUntilTheServerCloses() {
        var s = session { $0.noClose = true; $0.linger = .zero }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.stdinEnded, now: .zero) == [])
        #expect(s.handle(.tick, now: .seconds(60)) == [])
        let going = WebSocketCloseInfo(code: 1001, reason: "bye", wasClean: true)
        #expect(s.handle(.closed(going), now: .seconds(61)) == [.printClose(going), .exit(.unclean)])
    }

    @Test func pingsGoOutOnScheduleAndTheirPongsGiveTheRoundTrip() {
        var s = session { $0.pingInterval = .seconds(1); $0.showPing = true }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.tick, now: .milliseconds(900)) == [])
        let actions = s.handle(.tick, now: .milliseconds(1000))
        guard case .ping(let payload)? = actions.first, actions.count == 1 else {
            Issue.record("expected one ping, got \(actions)")
            return
        }
        #expect(s.handle(.pong(payload), now: .milliseconds(1025))
            == [.printPong(payload, roundTrip: .milliseconds(25))])
        // An unsolicited pong is printed without a round trip.
        #expect(s.handle(.pong(ByteBuffer(string: "x")), now: .milliseconds(1100))
            == [.printPong(ByteBuffer(string: "x"), roundTrip: nil)])
        #expect(s.handle(.tick, now: .milliseconds(1500)) == [])
        #expect(s.handle(.tick, now: .milliseconds(2000)).count == 1)
    }

    @Test func anUnansweredPingEndsTheConnectionAsDead() {
        var s = session { $0.pingInterval = .seconds(1); $0.pingTimeout = .seconds(3) }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        _ = s.handle(.tick, now: .seconds(1))
        _ = s.handle(.tick, now: .seconds(2))
        _ = s.handle(.tick, now: .seconds(3))
        let actions = s.handle(.tick, now: .seconds(4))
        #expect(actions.last == .close(.internalServerError, reason: "ping timeout"))
        #expect(s.handle(.closed(dropped), now: .seconds(9)) == [.printClose(dropped), .exit(.unclean)])
    }

    @Test func aLostConnectionIsReopenedWithGrowingWaitsAndNothingIsSentTwice() {
        var s = session { $0.reconnect = true; $0.reconnectInitialDelay = .milliseconds(500); $0.reconnectMaxDelay = .seconds(1) }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.line("one"), now: .zero) == [.send(.text("one")), .readLine])
        #expect(s.handle(.closed(dropped), now: .seconds(1)).last == .connect(after: .milliseconds(500)))
        // The line read while no connection is open waits for the next one.
        #expect(s.handle(.line("two"), now: .seconds(1)) == [])
        #expect(s.handle(.connectFailed(.unreachable("refused")), now: .seconds(2))
            == [.report("refused"), .connect(after: .seconds(1))])
        #expect(s.handle(.connectFailed(.unreachable("refused")), now: .seconds(3))
            == [.report("refused"), .connect(after: .seconds(1))])  // capped
        #expect(s.handle(.connected, now: .seconds(4)) == [.send(.text("two")), .readLine])
        // After a success the wait starts small again.
        #expect(s.handle(.closed(dropped), now: .seconds(5)).last == .connect(after: .milliseconds(500)))
        // A stdin line outstanding across the loss is not asked for twice.
        #expect(s.handle(.connected, now: .seconds(6)) == [])
        #expect(s.handle(.line("three"), now: .seconds(6)) == [.send(.text("three")), .readLine])
    }

    @Test func withoutReconnectALossOrAFailureEndsTheRun() {
        var s = session()
        _ = s.start()
        #expect(s.handle(.connectFailed(.unreachable("no route")), now: .zero) == [.report("no route"), .exit(.unreachable)])
        var t = session { $0.reconnect = true }
        _ = t.start()
        // A refusal is an answer, not an outage: not retried.
        #expect(t.handle(.connectFailed(.refused("403 Forbidden")), now: .zero) == [.report("403 Forbidden"), .exit(.refused)])
    }

    @Test func aCloseWeAskedForIsNotReconnected() {
        var s = session { $0.reconnect = true; $0.slashCommands = true }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.line("/close 4000 done"), now: .zero) == [.close(CloseCode(4000), reason: "done")])
        let info = WebSocketCloseInfo(code: 4000, reason: "done", wasClean: true)
        #expect(s.handle(.closed(info), now: .zero) == [.printClose(info), .exit(.unclean)])
    }

    @Test func slashCommandsAtATerminal() {
        var s = session { $0.slashCommands = true }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        #expect(s.handle(.line("/ping hi"), now: .zero) == [.ping(ByteBuffer(string: "hi")), .readLine])
        #expect(s.handle(.line("/binary 00ff"), now: .zero) == [.send(.binary(ByteBuffer(bytes: [0, 255]))), .readLine])
        #expect(s.handle(.line("//etc"), now: .zero) == [.send(.text("/etc")), .readLine])
        let bad = s.handle(.line("/nope"), now: .zero)
        #expect(bad.count == 2 && bad.last == .readLine)
        #expect(s.handle(.line("/close 1005"), now: .zero).last == .readLine)  // 1005 is never sent
        // Without a terminal, a slash is just text.
        var piped = session()
        _ = piped.start()
        _ = piped.handle(.connected, now: .zero)
        #expect(piped.handle(.line("/ping"), now: .zero) == [.send(.text("/ping")), .readLine])
    }

    @Test func inputModes() throws {
        #expect(try ConnectFormat.message(from: "héllo", input: .text) == .text("héllo"))
        #expect(try ConnectFormat.message(from: "ab", input: .binary) == .binary(ByteBuffer(string: "ab")))
        #expect(try ConnectFormat.message(from: "de ad:BE EF", input: .hex) == .binary(ByteBuffer(bytes: [0xDE, 0xAD, 0xBE, 0xEF])))
        #expect(try ConnectFormat.message(from: "AAEC/w==", input: .base64) == .binary(ByteBuffer(bytes: [0, 1, 2, 255])))
        #expect(throws: ConnectFormat.BadLine.self) { try ConnectFormat.message(from: "abc", input: .hex) }
        #expect(throws: ConnectFormat.BadLine.self) { try ConnectFormat.message(from: "*!", input: .base64) }
        var s = session { $0.input = .hex }
        _ = s.start()
        _ = s.handle(.connected, now: .zero)
        let actions = s.handle(.line("zz"), now: .zero)
        #expect(actions == [.report("not hex digits: zz"), .readLine])
    }

    @Test func outputModes() {
        let binary = WebSocketMessage.binary(ByteBuffer(bytes: [0, 1, 254]))
        #expect(ConnectFormat.line(for: binary, output: .plain, time: nil) == "[binary 3 bytes] 0001fe")
        #expect(ConnectFormat.line(for: binary, output: .hex, time: nil) == "0001fe")
        #expect(ConnectFormat.line(for: binary, output: .base64, time: nil) == "AAH+")
        #expect(ConnectFormat.line(for: .text("hi"), output: .hex, time: "T") == "T hi")
        #expect(ConnectFormat.line(for: .text("a\"b"), output: .json, time: "T")
            == #"{"size":3,"text":"a\"b","time":"T","type":"text"}"#)
        #expect(ConnectFormat.line(for: binary, output: .json, time: nil) == #"{"base64":"AAH+","size":3,"type":"binary"}"#)
        #expect(ConnectFormat.closeLine(WebSocketCloseInfo(code: 1000, reason: "bye", wasClean: true), time: nil)
            == #"{"clean":true,"code":1000,"reason":"bye","type":"close"}"#)
        #expect(ConnectFormat.line(forPong: ByteBuffer(), roundTrip: .microseconds(1500), output: .json, time: nil)
            == #"{"rtt_ms":1.5,"size":0,"type":"pong"}"#)
    }
}
