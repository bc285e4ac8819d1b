import NIOCore
import NIOPosix
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// What operating the gateway needs: origin policy, connection limits, graceful shutdown.
@Suite struct OperationsTests {
    func plainClient(origin: String? = nil) -> WebSocketClientConfiguration {
        var c = WebSocketClientConfiguration(origin: origin)
        c.proxy = .none
        return c
    }

    @Test func originPolicyMatching() {
        let policy = OriginPolicy.only(["https://app.example", "https://*.example.org"])
        #expect(policy.allows(nil))
        #expect(policy.allows("https://app.example"))
        #expect(policy.allows("HTTPS://APP.EXAMPLE"))
        #expect(policy.allows("https://a.example.org") && policy.allows("https://b.c.example.org"))
        #expect(!policy.allows("https://example.org"))          // the wildcard needs a subdomain
        #expect(!policy.allows("http://a.example.org"))         // scheme counts
        #expect(!policy.allows("https://app.example.evil"))
        #expect(!policy.allows("https://evilexample.org"))
        #expect(!policy.allows("null"))
        #expect(OriginPolicy.only(["*"]).allows("null"))
        #expect(OriginPolicy.any.allows("https://anything"))
    }

    @Test func disallowedOriginGets403BeforeTheUpgrade() async throws {
        var router = ServiceRouter()
        router.mount(EchoService(), at: "/echo", origins: .only(["https://good.example"]))
        try await withServer(router: router) { port in
            let good = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient(origin: "https://good.example"))
            await good.close()
            let noOrigin = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient())
            await noOrigin.close()
            let reply = try await rawExchange(port: port, Array(upgradeRequest(extra: "Origin: https://evil.example\r\n").utf8))
            let text = reply.text
            #expect(reply.closed, "\(reply)")
            #expect(text.hasPrefix("HTTP/1.1 403 Forbidden\r\n"))
            #expect(text.contains("origin https://evil.example is not allowed"))
            #expect(!text.contains("101"))
        }
    }

    @Test func connectionsOverTheTotalLimitGet503AndOthersAreUnaffected() async throws {
        try await withServer(configure: { $0.maxConnections = 2 }) { port in
            let a = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient())
            let b = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient())
            let refused = try await rawExchange(port: port, Array(upgradeRequest().utf8))
            #expect(refused.closed, "\(refused)")
            #expect(refused.text.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
            #expect(refused.text.contains("Retry-After: 5\r\n"))
            // The two admitted connections still work; once one leaves, a newcomer gets in.
            var ai = a.messages.makeAsyncIterator()
            try await a.send(text: "fine")
            #expect(await ai.next() == .text("fine"))
            await b.close()
            try await waitUntil { try await canConnect(port: port) }
            await a.close()
        }
    }

    @Test func connectionsPerAddressAreLimitedSeparately() async throws {
        try await withServer(configure: { $0.maxConnectionsPerAddress = 1 }) { port in
            let first = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient())
            let refused = try await rawExchange(port: port, Array(upgradeRequest().utf8))
            #expect(refused.closed, "\(refused)")
            #expect(refused.text.hasPrefix("HTTP/1.1 503"))
            #expect(refused.text.contains("from this address"))
            // Another source address is another client.
            var other = plainClient()
            other.localAddress = try SocketAddress(ipAddress: "127.0.0.2", port: 0)
            let second = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: other)
            await second.close()
            await first.close()
        }
    }

    @Test func gracefulShutdownSends1001ToEveryClientAndWaitsForThem() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .seconds(5)
        let server = try await WebSocketServer.start(configuration: configuration, router: defaultRouter())
        let port = server.localAddress!.port!
        let clients = [
            try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient()),
            try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast", configuration: plainClient()),
            try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: plainClient()),
        ]
        // A connection still in its handshake is dropped, not waited for.
        let half = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await waitUntil { server.connectionCount == 4 }
        let start = ContinuousClock.now
        try await server.shutdown().get()
        #expect(ContinuousClock.now - start < .seconds(4), "clients answered the close: no need to wait for the deadline")
        #expect(server.connectionCount == 0)
        for client in clients {
            let info = await client.closeInfo()
            #expect(info.code == 1001 && info.wasClean, "\(info)")
        }
        try await half.closeFuture.get()
        #expect(try await !canConnect(port: port), "the listener is closed")
    }

    @Test func shutdownDeadlineClosesClientsThatDoNotAnswer() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.shutdownGracePeriod = .milliseconds(300)
        configuration.closeTimeout = .seconds(30) // only the shutdown deadline may end it
        let server = try await WebSocketServer.start(configuration: configuration, router: defaultRouter())
        let port = server.localAddress!.port!
        // A raw client that completes the handshake and then never answers the close.
        let silent = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton).connect(host: "127.0.0.1", port: port).get()
        try await silent.writeAndFlush(ByteBuffer(string: upgradeRequest()))
        try await waitUntil { server.connectionCount == 1 }
        try await Task.sleep(for: .milliseconds(100))
        let start = ContinuousClock.now
        try await server.shutdown().get()
        #expect(ContinuousClock.now - start < .seconds(3))
        try await silent.closeFuture.get()
    }
}

func canConnect(port: Int) async throws -> Bool {
    var c = WebSocketClientConfiguration()
    c.proxy = .none
    do {
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo", configuration: c)
        await ws.close()
        return true
    } catch {
        return false
    }
}

/// Polls `condition` every 20 ms for up to 5 s.
func waitUntil(_ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + .seconds(5)
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    Issue.record("condition not met within 5 s")
}
