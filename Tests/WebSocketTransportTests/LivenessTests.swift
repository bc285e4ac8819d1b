import NIOCore
import NIOPosix
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

@Suite struct LivenessStateMachineTests {
    let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
    func at(_ ms: Int64) -> NIODeadline { start + .milliseconds(ms) }

    @Test func pingsAQuietPeerThenGivesUp() {
        var l = Liveness(configuration: .init(pingInterval: .milliseconds(100), pongTimeout: .milliseconds(50), idleTimeout: nil), now: start)
        #expect(l.tick(now: at(50)) == .nothing)
        #expect(l.tick(now: at(100)) == .ping)
        #expect(l.tick(now: at(120)) == .nothing)
        #expect(l.tick(now: at(150)) == .close(.internalServerError, reason: "keepalive ping timeout"))
    }

    @Test func anAnswerResetsTheClock() {
        var l = Liveness(configuration: .init(pingInterval: .milliseconds(100), pongTimeout: .milliseconds(50), idleTimeout: nil), now: start)
        #expect(l.tick(now: at(100)) == .ping)
        l.frameReceived() // the pong
        #expect(l.tick(now: at(150)) == .nothing)
        #expect(l.tick(now: at(200)) == .nothing)
        #expect(l.tick(now: at(250)) == .ping)
        // A busy peer is never pinged.
        for t in stride(from: Int64(300), to: 1000, by: 50) {
            l.frameReceived()
            #expect(l.tick(now: at(t)) == .nothing)
        }
    }

    @Test func idleTimeoutCountsDataNotPings() {
        var l = Liveness(configuration: .init(pingInterval: nil, pongTimeout: .seconds(1), idleTimeout: .milliseconds(200)), now: start)
        l.dataMessage()
        #expect(l.tick(now: at(100)) == .nothing)
        l.frameReceived() // a ping or pong is not data
        #expect(l.tick(now: at(250)) == .nothing)
        #expect(l.tick(now: at(300)) == .close(.goingAway, reason: "idle timeout"))
    }

    /// A quiet connection's compression rests once per quiet spell, between one and two ticks after its last
    /// data message; a data message starts a new spell.
    @Test func compressionRestsOncePerQuietSpell() {
        var l = Liveness(configuration: .init(pingInterval: nil, pongTimeout: .seconds(1), idleTimeout: nil,
                                              compressionRestAfter: .milliseconds(100)), now: start)
        #expect(l.configuration.tickInterval == .milliseconds(100))
        l.dataMessage()
        _ = l.tick(now: at(100))
        let due1 = l.compressionRestDue(now: at(100))
        #expect(!due1, "data in the last tick")
        _ = l.tick(now: at(200))
        let due2 = l.compressionRestDue(now: at(200))
        #expect(due2)
        _ = l.tick(now: at(300))
        let due3 = l.compressionRestDue(now: at(300))
        #expect(!due3, "rested already")
        l.dataMessage()
        _ = l.tick(now: at(400))
        let due4 = l.compressionRestDue(now: at(400))
        #expect(!due4)
        _ = l.tick(now: at(500))
        let due5 = l.compressionRestDue(now: at(500))
        #expect(due5)
        var never = Liveness(configuration: .init(pingInterval: nil, pongTimeout: .seconds(1), idleTimeout: nil), now: start)
        _ = never.tick(now: at(10_000))
        let due6 = never.compressionRestDue(now: at(10_000))
        #expect(!due6)
    }

    @Test func tickIntervalIsTheFinestPeriod() {
        #expect(Liveness.Configuration(pingInterval: .seconds(30), pongTimeout: .seconds(20), idleTimeout: nil).tickInterval == .seconds(20))
        #expect(Liveness.Configuration(pingInterval: nil, pongTimeout: .seconds(20), idleTimeout: .seconds(60)).tickInterval == .seconds(15))
        #expect(Liveness.Configuration(pingInterval: nil, pongTimeout: .seconds(20), idleTimeout: nil).tickInterval == nil)
    }
}

/// Keep-alive, idle timeout and slow consumers against real sockets.
@Suite struct LivenessTransportTests {
    /// A raw client that completes the handshake and then never sends a byte; collects what it receives.
    func silentClient(port: Int, path: String = "/echo") async throws -> (any Channel, Collector) {
        let collector = Collector()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
            .connect(host: "127.0.0.1", port: port).get()
        try await channel.writeAndFlush(ByteBuffer(string: upgradeRequest(path: path)))
        return (channel, collector)
    }

    @Test func aDeadPeerIsPingedThenClosedWith1011() async throws {
        // The handshake timeout is not what is tested: generous, so a loaded machine stalling the client's first
        // write cannot close the connection before it (seen once with CI, fuzzers and builds on two cores).
        try await withServer(configure: { $0.pingInterval = .milliseconds(100); $0.pongTimeout = .milliseconds(150)
            $0.closeTimeout = .milliseconds(300); $0.handshakeTimeout = .seconds(60) }) { port in
            let (channel, collector) = try await silentClient(port: port)
            let start = ContinuousClock.now
            try await channel.closeFuture.get() // the server gives up (close frame, then TCP after closeTimeout)
            let frames = try await channel.eventLoop.submit { splitResponse(collector.received).frames }.get()
            #expect(frames.first?.0 == .ping)
            #expect(frames.last?.0 == .close)
            #expect(frames.last.map { closeCode(of: $0.1) } == 1011)
            #expect(ContinuousClock.now - start < .seconds(8))
        }
    }

    @Test func aLiveClientAnswersPingsAndStays() async throws {
        // Pinged every 100 ms; a pong missing for 1 s would close it before the 1.5 s are over. (The timeout
        // is generous so that a loaded test machine cannot delay a pong past it.)
        try await withServer(configure: { $0.pingInterval = .milliseconds(100); $0.pongTimeout = .seconds(1) }) { port in
            var c = WebSocketClientConfiguration()
            c.proxy = .none
            let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: c)
            try await Task.sleep(for: .milliseconds(1500)) // many ping rounds; the library client answers them
            var it = ws.messages.makeAsyncIterator()
            try await ws.send(text: "still open")
            #expect(await it.next() == .text("still open"))
            await ws.close()
        }
    }

    @Test func idleConnectionsAreClosedWith1001() async throws {
        try await withServer(configure: { $0.idleTimeout = .milliseconds(200); $0.pingInterval = nil }) { port in
            var c = WebSocketClientConfiguration()
            c.proxy = .none
            let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: c)
            let info = await ws.closeInfo()
            #expect(info.code == 1001 && info.reason == "idle timeout")
        }
    }

    @Test func aClientThatNeverReadsIsDisconnectedNotBufferedForever() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxSendQueueBytes = 1 << 20
        configuration.closeTimeout = .milliseconds(300)
        let server = try await WebSocketServer.start(configuration: configuration, router: defaultRouter())
        defer { server.shutdown(gracePeriod: .milliseconds(100)) }
        let port = server.localAddress!.port!
        // The slow one: joins /broadcast and never reads (autoRead off: the kernel buffers fill up).
        let slow = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.autoRead, value: false)
            .connect(host: "127.0.0.1", port: port).get()
        try await slow.writeAndFlush(ByteBuffer(string: upgradeRequest(path: "/broadcast")))
        var c = WebSocketClientConfiguration()
        c.proxy = .none
        c.compression = nil
        let fast = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast", configuration: c)
        try await waitUntil { server.connectionCount == 2 }
        var it = fast.messages.makeAsyncIterator()
        let chunk = ByteBuffer(repeating: 0x2A, count: 64 << 10)
        for _ in 0..<200 { // 12.5 MiB to a peer that takes none of it
            try await fast.send(binary: chunk)
            #expect(await it.next() == .binary(chunk))
        }
        try await waitUntil { server.connectionCount == 1 }
        try await fast.send(text: "the fast one carries on")
        #expect(await it.next() == .text("the fast one carries on"))
        await fast.close()
        slow.close(promise: nil)
    }
}
