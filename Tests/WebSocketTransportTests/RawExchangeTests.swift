import Foundation
import NIOCore
import NIOPosix
import Testing

/// `rawExchange` judged against listeners whose behaviour is known, so that the tests built on it fail when the
/// server hangs instead of hanging up: one that never answers, one that answers and closes, one that resets.
@Suite struct RawExchangeTests {
    enum Behaviour: Sendable { case silent, answerAndClose, reset }

    /// Does `behaviour` to every connection once it has sent something.
    final class Listener: ChannelInboundHandler, Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: Behaviour
        init(_ behaviour: Behaviour) { self.behaviour = behaviour }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let channel = context.channel
            switch behaviour {
            case .silent:
                break
            case .answerAndClose:
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: "bye")), promise: nil)
                context.close(promise: nil)
            case .reset: // SO_LINGER 0: close() sends an RST
                (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0))
                    .whenComplete { _ in channel.close(promise: nil) }
            }
        }
    }

    func withListener(_ behaviour: Behaviour, _ body: (Int) async throws -> Void) async throws {
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Listener(behaviour)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        do {
            try await body(server.localAddress!.port!)
        } catch {
            try? await server.close()
            throw error
        }
        try await server.close()
    }

    @Test func aSilentServerIsStillOpenWhenTheTimeoutPasses() async throws {
        try await withListener(.silent) { port in
            let start = ContinuousClock.now
            let reply = try await rawExchange(port: port, Array("hello?".utf8), timeout: .milliseconds(300))
            #expect(reply.ending == .stillOpen && !reply.closed && reply.bytes.isEmpty, "\(reply)")
            #expect(ContinuousClock.now - start >= .milliseconds(300))
        }
    }

    @Test func aCloseIsAnEOFWithWhatCameBefore() async throws {
        try await withListener(.answerAndClose) { port in
            let reply = try await rawExchange(port: port, Array("hello?".utf8))
            #expect(reply.ending == .eof && reply.closed && reply.text == "bye", "\(reply)")
        }
    }

    @Test func aResetIsAReset() async throws {
        try await withListener(.reset) { port in
            let reply = try await rawExchange(port: port, Array("hello?".utf8))
            #expect(reply.ending == .reset && reply.closed, "\(reply)")
        }
    }
}
