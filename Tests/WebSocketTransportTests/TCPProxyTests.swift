import NIOCore
import NIOPosix
import Testing
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// A TCP backend for the proxy tests: upper-cases what it receives (so a reply is visibly the backend's).
final class UpperCaser: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let bytes = unwrapInboundIn(data).readableBytesView.map { $0 >= 0x61 && $0 <= 0x7A ? $0 - 32 : $0 }
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(bytes: bytes)), promise: nil)
    }
}

@Suite struct TCPProxyTests {
    func backend() async throws -> any Channel {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { ch in ch.eventLoop.makeCompletedFuture { try ch.pipeline.syncOperations.addHandler(UpperCaser()) } }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    func client() -> WebSocketClientConfiguration {
        var c = WebSocketClientConfiguration()
        c.proxy = .none
        return c
    }

    @Test func bytesGoBothWays() async throws {
        let tcp = try await backend()
        var router = ServiceRouter()
        router.mount(TCPProxyService(host: "127.0.0.1", port: tcp.localAddress!.port!), at: "/tcp")
        try await withServer(router: router) { port in
            let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/tcp", configuration: client())
            // Sent at once, before the backend connection may be up: nothing is lost.
            try await ws.send(binary: ByteBuffer(string: "hello "))
            try await ws.send(text: "backend")
            // One iterator for the connection's life: dropping one ends the message sequence.
            var iterator = ws.messages.makeAsyncIterator()
            var received = ""
            while received.count < 13, let message = await iterator.next() {
                #expect(message.kind == .binary)
                received += String(buffer: message.data)
            }
            #expect(received == "HELLO BACKEND")
            // A large transfer arrives whole (the backend's TCP reads decide the message boundaries).
            let big = String(repeating: "abcdefgh", count: 128 << 10) // 1 MiB
            try await ws.send(text: big)
            var total = 0
            while total < big.utf8.count, let m = await iterator.next() {
                #expect(m.data.readableBytesView.allSatisfy { $0 >= 0x41 && $0 <= 0x48 })
                total += m.data.readableBytes
            }
            #expect(total == big.utf8.count)
            await ws.close()
        }
        try await tcp.close()
    }

    @Test func unreachableBackendGets1014() async throws {
        let tcp = try await backend()
        let deadPort = tcp.localAddress!.port!
        try await tcp.close()
        var router = ServiceRouter()
        router.mount(TCPProxyService(host: "127.0.0.1", port: deadPort), at: "/tcp")
        try await withServer(router: router) { port in
            let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/tcp", configuration: client())
            let info = await ws.closeInfo()
            #expect(info.code == 1014 && info.reason == "backend unreachable")
        }
    }
}
