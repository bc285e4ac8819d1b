import NIOCore
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// A connection's share of an event-loop turn: how a byte budget becomes NIO's reads per turn and read size, and
/// that a listener gives it to every connection, the smaller one to those that negotiated permessage-deflate.
@Suite struct ReadBudgetTests {
    let listenerBuffers = AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 256, maximum: 65536)

    @Test(arguments: [
        (262_144, UInt(4), 65536),     // the default: four full reads
        (32768, UInt(1), 32768),       // the compressed default: one smaller read
        (100_000, UInt(1), 65536),     // what does not fill a second read gets none
        (1 << 20, UInt(16), 65536),    // what the listener read before budgets existed
        (1024, UInt(1), 1024),
        (40000, UInt(1), 32768),       // reads are a power of two
    ])
    func aBudgetIsReadsOfAtMostTheListenersBuffer(budget: Int, reads: UInt, readSize: Int) {
        let b = ReadBudget(budget: budget, receiveBuffer: listenerBuffers)
        #expect(b.readsPerTurn == reads && b.maximumReadSize == readSize)
        let allocator = b.receiveAllocator
        #expect(allocator.maximum == readSize && allocator.minimum == 64 && allocator.initial == min(256, readSize))
    }

    @Test func aSmallReadKeepsTheAllocatorsBoundsInOrder() {
        // An initial size above the read size would trip NIO's precondition (initial ≤ maximum).
        let big = AdaptiveRecvByteBufferAllocator(minimum: 4096, initial: 16384, maximum: 65536)
        let allocator = ReadBudget(budget: 2048, receiveBuffer: big).receiveAllocator
        #expect(allocator.minimum <= allocator.initial && allocator.initial <= allocator.maximum)
        #expect(allocator.maximum == 4096) // never below the listener's minimum
    }

    /// Answers each connection with its channel's settings as the gateway left them after the handshake.
    struct SettingsProbe: WebSocketService {
        func makeHandler() -> any WebSocketHandler { Handler() }

        final class Handler: WebSocketHandler {
            func connectionDidOpen(_ connection: any WebSocketConnection) {
                let channel = (connection as? WebSocketChannelHandler<RFC6455Connection>)?.channel
                let reads = try? channel?.syncOptions?.getOption(.maxMessagesPerRead)
                let allocator = try? channel?.syncOptions?.getOption(.recvAllocator) as? AdaptiveRecvByteBufferAllocator
                connection.send(.text("reads=\(reads.map(String.init) ?? "?") max=\(allocator.map { String($0.maximum) } ?? "?")"),
                                promise: nil)
            }
            func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {}
        }
    }

    /// What the probe answers a plain client and then a compressing one (each answer after what was negotiated),
    /// on a listener set up by `configure`.
    func settingsSeen(configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> [String] {
        var router = ServiceRouter()
        router.mount(SettingsProbe(), at: "/probe", compression: .default)
        return try await withServer(router: router, configure: configure) { (port: Int) async throws -> [String] in
            var answers: [String] = []
            let offers: [PerMessageDeflate.ClientSettings?] = [nil, .default]
            for offer in offers {
                var configuration = WebSocketClientConfiguration(compression: offer)
                configuration.proxy = .none
                let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/probe", configuration: configuration)
                let negotiated = ws.request.compression != nil ? "deflate" : "plain"
                var messages = ws.messages.makeAsyncIterator()
                let answer = await messages.next().map { String(buffer: $0.data) } ?? "(closed)"
                answers.append("\(negotiated) \(answer)")
                await ws.close()
            }
            return answers
        }
    }

    @Test func compressedConnectionsGetTheSmallerBudget() async throws {
        #expect(try await settingsSeen() == ["plain reads=4 max=65536", "deflate reads=1 max=32768"])
    }

    @Test func theListenersBudgetsAreItsConfigurations() async throws {
        #expect(try await settingsSeen(configure: { $0.readBudget = 1 << 20; $0.compressedReadBudget = 8192 })
                == ["plain reads=16 max=65536", "deflate reads=1 max=8192"])
    }
}
