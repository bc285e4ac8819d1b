import NIOCore
import NIOPosix
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// hixie-75/76 between the library client and the gateway over loopback: echo, a broadcast shared with RFC 6455
/// clients, the binary rule, and the raw handshake with key3 in a later segment.
@Suite struct HixieTransportTests {
    func client(_ draft: HixieDraft, port: Int, path: String = "/echo") async throws -> AsyncWebSocket {
        var configuration = WebSocketClientConfiguration(origin: "http://app.example")
        configuration.draft = draft
        return try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)\(path)", configuration: configuration)
    }

    @Test(arguments: HixieDraft.allCases) func echoTextAndUTF8BinaryOneByteToOneMegabyte(draft: HixieDraft) async throws {
        try await withServer { port in
            let ws = try await client(draft, port: port)
            #expect(ws.request.wire == (draft == .hixie75 ? .hixie75 : .hixie76))
            #expect(ws.request.compression == nil)
            var replies = ws.messages.makeAsyncIterator()
            for size in [1, 125, 126, 65536, 1 << 20] {
                let text = String(repeating: "é", count: size / 2) + String(repeating: "x", count: size % 2)
                try await ws.send(text: text)
                #expect(await replies.next() == .text(text))
            }
            // Binary that is UTF-8 goes as text; other binary is refused with an error, not mangled.
            try await ws.send(binary: ByteBuffer(string: "utf8 bytes"))
            #expect(await replies.next() == .text("utf8 bytes"))
            await #expect(throws: WebSocketTransportError.self) { try await ws.send(binary: ByteBuffer(bytes: [0xFF, 0x00])) }
            let info = await ws.close()
            #expect(info.wasClean)
        }
    }

    @Test func broadcastReachesEveryWireAndSkipsWhatAHixieClientCannotCarry() async throws {
        try await withServer { port in
            let url = "ws://127.0.0.1:\(port)/broadcast"
            let modern = try await WebSocketClient.connect(to: url)
            let v75 = try await client(.hixie75, port: port, path: "/broadcast")
            let v76 = try await client(.hixie76, port: port, path: "/broadcast")
            var inboxes = [modern.messages.makeAsyncIterator(), v75.messages.makeAsyncIterator(), v76.messages.makeAsyncIterator()]
            // Join barrier: each sees its own first message back, so all three are registered.
            for (i, ws) in [modern, v75, v76].enumerated() {
                try await ws.send(text: "join \(i)")
                while await inboxes[i].next() != .text("join \(i)") {}
            }
            // A binary message only RFC 6455 can carry, then text from each wire.
            try await modern.send(binary: ByteBuffer(bytes: [0x80, 0xFF]))
            try await modern.send(text: "from 6455")
            try await v75.send(text: "from 75")
            try await v76.send(text: "from 76 ✓")
            let expected: Set<String> = ["from 6455", "from 75", "from 76 ✓"]
            for i in 0..<3 {
                var seen: Set<String> = []
                var sawBinary = false
                while !expected.isSubset(of: seen) {
                    guard let message = await inboxes[i].next() else { break }
                    if message.kind == .binary { sawBinary = true } else { seen.insert(message.text) }
                }
                #expect(expected.isSubset(of: seen), "client \(i) saw \(seen)")
                #expect(sawBinary == (i == 0), "only the RFC 6455 client gets the non-UTF-8 binary")
            }
            for ws in [modern, v75, v76] { await ws.close() }
        }
    }

    @Test func key3InALaterSegmentAndContentLength8() async throws {
        try await withServer { port in
            let head = "GET /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
                + "Origin: http://example.com\r\nSec-WebSocket-Key1: 4 @1  46546xW%0l 1 5\r\n"
                + "Sec-WebSocket-Key2: 12998 5 Y3 1  .P00\r\n"
            for extra in ["", "Content-Length: 8\r\n"] {
                let collector = Collector()
                let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                    .channelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(collector) } }
                    .connect(host: "127.0.0.1", port: port).get()
                try await channel.writeAndFlush(ByteBuffer(string: head + extra + "\r\n"))
                try await Task.sleep(for: .milliseconds(100))
                #expect(try await channel.eventLoop.submit { collector.received }.get().isEmpty, "answered before key3")
                try await channel.writeAndFlush(ByteBuffer(bytes: Array("^n:ds[4U".utf8) + [0x00, 0x68, 0x69, 0xFF, 0xFF, 0x00]))
                try await channel.closeFuture.get()
                let reply = String(decoding: try await channel.eventLoop.submit { collector.received }.get(), as: UTF8.self)
                #expect(reply.hasPrefix("HTTP/1.1 101 WebSocket Protocol Handshake\r\n"))
                #expect(reply.contains("Sec-WebSocket-Location: ws://127.0.0.1/echo\r\n"))
                #expect(reply.hasSuffix("\r\n\r\n8jKS'y:G*Co,Wxa-\u{0}hi\u{FFFD}\u{FFFD}\u{0}"))
            }
        }
    }
}
