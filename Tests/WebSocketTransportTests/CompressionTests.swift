import NIOCore
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// permessage-deflate between the gateway and the library client over loopback sockets.
@Suite struct CompressionTests {
    @Test func clientOffersByDefaultAndServerAccepts() async throws {
        try await withServer { port in
            let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
            // The client offers client_max_window_bits (as browsers do); the server asks for 12.
            #expect(ws.request.compression == PerMessageDeflate.Parameters(clientMaxWindowBits: 12))
            var iterator = ws.messages.makeAsyncIterator()
            let prose = String(repeating: "permessage-deflate over loopback, ✓ ", count: 20_000)
            for message in [WebSocketMessage.text("short"), .text(prose), .binary(ByteBuffer(repeating: 0xAB, count: 300_000)), .text("")] {
                try await ws.send(message)
                #expect(await iterator.next() == message)
            }
            let info = await ws.close()
            #expect(info.code == 1000 && info.wasClean)
        }
    }

    @Test func serviceWithoutCompressionDeclines() async throws {
        var router = ServiceRouter()
        router.mount(EchoService(), at: "/plain", compression: nil)
        router.mount(EchoService(), at: "/small", compression: .init(serverMaxWindowBits: 9, clientMaxWindowBits: 10, serverNoContextTakeover: true))
        try await withServer(router: router) { port in
            let plain = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/plain")
            #expect(plain.request.compression == nil)
            try await plain.send(text: String(repeating: "x", count: 1000))
            var pi = plain.messages.makeAsyncIterator()
            #expect(await pi.next() == .text(String(repeating: "x", count: 1000)))
            await plain.close()

            let small = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/small")
            #expect(small.request.compression == .init(serverNoContextTakeover: true, serverMaxWindowBits: 9, clientMaxWindowBits: 10))
            var si = small.messages.makeAsyncIterator()
            let text = String(repeating: "0123456789abcdef", count: 5000)
            try await small.send(text: text)
            #expect(await si.next() == .text(text))
            await small.close()
        }
    }

    @Test func broadcastReachesCompressedAndPlainClientsAlike() async throws {
        try await withServer { port in
            let compressed = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast")
            let plain = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast",
                                                          configuration: .init(compression: nil))
            #expect(compressed.request.compression != nil && plain.request.compression == nil)
            var ci = compressed.messages.makeAsyncIterator(), pi = plain.messages.makeAsyncIterator()
            try await plain.send(text: "ready")
            #expect(await pi.next() == .text("ready"))
            #expect(await ci.next() == .text("ready"))
            let long = String(repeating: "broadcast ", count: 1000)
            for _ in 0..<3 {
                try await compressed.send(text: long)
                #expect(await ci.next() == .text(long))
                #expect(await pi.next() == .text(long))
            }
            await compressed.close()
            await plain.close()
        }
    }

    @Test func decompressionBombIsAnswered1009AndOthersCarryOn() async throws {
        try await withServer(configure: { $0.engine.maxMessageSize = 1 << 20 }) { port in
            let bystander = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/echo")
            // 64 MiB of zeros in a ~64 KiB frame (zlib level 9, as a bomb's maker would), written by hand after an offer.
            var codec = RFC6455Connection(role: .client, compression: PerMessageDeflateCodec(
                parameters: .init(), role: .client, tuning: .init(compressionLevel: 9)))
            var frame = ByteBuffer()
            codec.writeMessage(.binary, payload: ByteBuffer(repeating: 0, count: 64 << 20), into: &frame)
            #expect(frame.readableBytes < 128 << 10)
            let reply = try await rawExchange(port: port, Array(upgradeRequest(extra: "Sec-WebSocket-Extensions: permessage-deflate\r\n").utf8)
                                              + Array(frame.readableBytesView))
            let (head, frames) = splitResponse(reply.bytes)
            #expect(reply.closed, "\(reply)")
            #expect(head.contains("Sec-WebSocket-Extensions: permessage-deflate"))
            #expect(frames.count == 1 && frames.first?.0 == .close)
            #expect(frames.first.map { closeCode(of: $0.1) } == 1009)

            var iterator = bystander.messages.makeAsyncIterator()
            try await bystander.send(text: "still here")
            #expect(await iterator.next() == .text("still here"))
            await bystander.close()
        }
    }
}

func closeCode(of payload: [UInt8]) -> UInt16? {
    payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
}
