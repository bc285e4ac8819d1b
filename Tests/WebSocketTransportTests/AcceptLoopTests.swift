import NIOCore
import NIOPosix
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// Listeners accept on a thread of their own and serve on the group they are given, so a newcomer is not accepted
/// only between two turns of a busy connection loop; `acceptGroup: nil` accepts on that group as before.
@Suite struct AcceptLoopTests {
    /// Tells each connection whether it is served on `expected`.
    struct LoopProbe: WebSocketService {
        let expected: any EventLoop
        func makeHandler() -> any WebSocketHandler { Handler(expected: expected) }

        final class Handler: WebSocketHandler {
            let expected: any EventLoop
            init(expected: any EventLoop) { self.expected = expected }
            func connectionDidOpen(_ connection: any WebSocketConnection) {
                connection.send(.text(connection.eventLoop === expected ? "served on the group" : "served elsewhere"), promise: nil)
            }
            func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {}
        }
    }

    /// Starts a listener on a one-thread group, answers where one connection was served, and where it accepted.
    func serve(acceptGroup: (any EventLoopGroup)?) async throws -> (answer: String, acceptedOn: any EventLoop, group: any EventLoop) {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let loop = group.next()
        let server = try await WebSocketServer.start(configuration: .init(host: "127.0.0.1", port: 0),
                                                     router: ServiceRouter(["/probe": LoopProbe(expected: loop)]),
                                                     group: group, acceptGroup: acceptGroup, metrics: nil)
        var client = WebSocketClientConfiguration()
        client.proxy = .none
        let ws = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(server.localAddress!.port!)/probe", configuration: client)
        var messages = ws.messages.makeAsyncIterator()
        let answer = await messages.next().map { String(buffer: $0.data) } ?? "(closed)"
        await ws.close()
        let acceptedOn = server.acceptLoop
        try await server.close()
        try await group.shutdownGracefully()
        return (answer, acceptedOn, loop)
    }

    @Test func byDefaultTheListenerAcceptsOnItsOwnThread() async throws {
        let seen = try await serve(acceptGroup: WebSocketServer.acceptorGroup)
        #expect(seen.answer == "served on the group")
        #expect(seen.acceptedOn === WebSocketServer.acceptorGroup.next() && seen.acceptedOn !== seen.group)
    }

    @Test func withoutAnAcceptGroupItAcceptsOnTheConnectionsGroup() async throws {
        let seen = try await serve(acceptGroup: nil)
        #expect(seen.answer == "served on the group")
        #expect(seen.acceptedOn === seen.group)
    }
}
