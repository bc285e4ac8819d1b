import NIOCore
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// The gateway and the library client over real loopback sockets.
@Suite struct ServerClientTests {
    @Test func echoesTextAndBinaryAndClosesCleanly() async throws {
        try await withServer { port in
            let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
            var iterator = ws.messages.makeAsyncIterator()
            try await ws.send(text: "héllo")
            #expect(await iterator.next() == .text("héllo"))
            let big = ByteBuffer(bytes: (0..<200_000).map { UInt8(truncatingIfNeeded: $0) })
            try await ws.send(binary: big)
            #expect(await iterator.next() == .binary(big))
            try await ws.send(binary: ByteBuffer())
            #expect(await iterator.next() == .binary(ByteBuffer()))
            let info = await ws.close(code: .normalClosure, reason: "done")
            #expect(info.code == 1000 && info.wasClean)
            #expect(await iterator.next() == nil)
        }
    }

    @Test func broadcastReachesEveryConnectionOnThePath() async throws {
        try await withServer { port in
            let a = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast")
            let b = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast")
            // Wait until both joined: a message from b reaches b itself.
            var ai = a.messages.makeAsyncIterator(), bi = b.messages.makeAsyncIterator()
            try await b.send(text: "ready")
            #expect(await bi.next() == .text("ready"))
            #expect(await ai.next() == .text("ready"))
            try await a.send(text: "from a")
            #expect(await bi.next() == .text("from a"))
            #expect(await ai.next() == .text("from a"))
            await a.close()
            await b.close()
        }
    }

    @Test func subprotocolNegotiationAndServiceRejection() async throws {
        struct Chat: WebSocketService {
            func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
                if request.origin == "http://evil.example" { return .reject(.forbidden("origin not allowed")) }
                return .accept(subprotocol: offeredSubprotocols.first { $0 == "chat" })
            }
            func makeHandler() -> any WebSocketHandler { EchoService().makeHandler() }
        }
        try await withServer(router: ServiceRouter(["/chat": Chat()])) { port in
            let ws = try await WebSocketClient.connect(
                to: "ws://127.0.0.1:\(port)/chat", configuration: .init(subprotocols: ["superchat", "chat"]))
            #expect(ws.subprotocol == "chat")
            await ws.close()
            await #expect(throws: WebSocketTransportError.self) {
                _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/chat",
                                                      configuration: .init(origin: "http://evil.example"))
            }
        }
    }

    @Test func plainRequestsGet404Or426AndGarbageGets400() async throws {
        try await withServer { port in
            let notFound = try await rawExchange(port: port, Array("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(notFound.closed && notFound.text.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(notFound)")
            let upgradeRequired = try await rawExchange(port: port, Array("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n".utf8))
            #expect(upgradeRequired.closed, "\(upgradeRequired)")
            #expect(upgradeRequired.text.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
            #expect(upgradeRequired.text.contains("Sec-WebSocket-Version: 13\r\n"))
            let garbage = try await rawExchange(port: port, Array("\u{16}\u{3}\u{1}garbage\r\n\r\n".utf8))
            #expect(garbage.closed && garbage.text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(garbage)")
            let upgradeToNowhere = try await rawExchange(port: port, Array(upgradeRequest(path: "/nope").utf8))
            #expect(upgradeToNowhere.closed && upgradeToNowhere.text.hasPrefix("HTTP/1.1 404 Not Found\r\n"), "\(upgradeToNowhere)")
        }
    }

    @Test func framesInTheSamePacketAsTheHandshakeAreProcessed() async throws {
        try await withServer { port in
            let bytes = Array(upgradeRequest().utf8) + clientFrame(.text, Array("early".utf8)) + clientFrame(.close, [0x03, 0xE8])
            let exchange = try await rawExchange(port: port, bytes)
            #expect(exchange.closed, "\(exchange)")
            let reply = splitResponse(exchange.bytes)
            #expect(reply.head.hasPrefix("HTTP/1.1 101 Switching Protocols"))
            #expect(reply.frames.map(\.0) == [.text, .close])
            #expect(reply.frames.first?.1 == Array("early".utf8))
            #expect(reply.frames.last?.1 == [0x03, 0xE8])
        }
    }

    @Test func protocolViolationsGetTheirCloseCodeAndOthersAreUnaffected() async throws {
        try await withServer(configure: { $0.engine.maxMessageSize = 1000; $0.engine.maxFrameSize = 1000 }) { port in
            let bystander = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
            var unmasked = ByteBuffer()
            FrameWriter.write(opcode: .text, payload: ByteBuffer(string: "x"), maskingKey: nil, into: &unmasked)
            let cases: [([UInt8], UInt16)] = [
                (Array(unmasked.readableBytesView), 1002),
                (clientFrame(.binary, Array(repeating: 0, count: 1001)), 1009),
                (clientFrame(.text, [0xC0, 0x80]), 1007),
                (clientFrame(WebSocketOpcode(rawValue: 0x3), []), 1002),
            ]
            for (frame, code) in cases {
                let exchange = try await rawExchange(port: port, Array(upgradeRequest().utf8) + frame)
                #expect(exchange.closed, "\(exchange)")
                let reply = splitResponse(exchange.bytes)
                #expect(reply.frames.count == 1 && reply.frames[0].0 == .close)
                #expect(reply.frames.first.map { UInt16($0.1[0]) << 8 | UInt16($0.1[1]) } == code)
            }
            try await bystander.send(text: "still here")
            var it = bystander.messages.makeAsyncIterator()
            #expect(await it.next() == .text("still here"))
            await bystander.close()
        }
    }

    @Test func aSilentClientIsDroppedAfterTheHandshakeTimeout() async throws {
        try await withServer(configure: { $0.handshakeTimeout = .milliseconds(200) }) { port in
            let start = ContinuousClock.now
            // Closed, not left open for the 20 s the exchange waits: the 200 ms timeout did it. The bound on the time
            // is loose on purpose — the suite runs its tests in parallel on 2 cores, where timers fire late.
            let reply = try await rawExchange(port: port, Array("GET /echo HTTP/1.1\r\n".utf8), timeout: .seconds(20))
            #expect(reply.closed && reply.bytes.isEmpty, "\(reply)")
            #expect(ContinuousClock.now - start < .seconds(10))
        }
    }

    @Test func clientRefusesABadURLAndAMissingServer() async throws {
        await #expect(throws: WebSocketTransportError.self) { _ = try await WebSocketClient.connect(to: "http://x/") }
        await #expect(throws: (any Error).self) { _ = try await WebSocketClient.connect(to: "ws://127.0.0.1:1/") }
    }
}
