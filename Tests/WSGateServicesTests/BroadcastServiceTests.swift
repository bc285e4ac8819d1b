import NIOCore
import NIOPosix
import Testing
import WebSocketAPI
import WebSocketAPITestSupport
import WSGateServices

/// `BroadcastService` through `RecordingConnection`s on two real event loops: one encoding for everybody,
/// members on another loop reached by a hop to it, and a closed connection leaving the group.
@Suite struct BroadcastServiceTests {
    /// A member of a service with its handler, driven on its own loop as the transport would drive it.
    /// `@unchecked Sendable`: the handler is only touched inside tasks submitted to `connection.eventLoop`.
    final class Member: @unchecked Sendable {
        let connection: RecordingConnection
        let handler: any WebSocketHandler

        init(_ service: BroadcastService, on loop: any EventLoop) throws {
            connection = RecordingConnection(eventLoop: loop)
            handler = service.makeHandler()
            try loop.submit { self.handler.connectionDidOpen(self.connection) }.wait()
        }

        func receive(_ message: WebSocketMessage) throws {
            try connection.eventLoop.submit { self.handler.connection(self.connection, didReceive: message) }.wait()
        }

        func closed() throws {
            try connection.eventLoop.submit {
                self.handler.connectionDidClose(self.connection, info: WebSocketCloseInfo(code: 1000, reason: "", wasClean: true))
            }.wait()
        }
    }

    /// Waits until every task already queued on `loops` has run (the broadcast's hops among them).
    static func settle(_ loops: [any EventLoop]) throws {
        for loop in loops { try loop.submit {}.wait() }
    }

    @Test func everyMemberGetsTheSamePreparedMessageOnBothLoops() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loops = [group.next(), group.next()]
        #expect(loops[0] !== loops[1])
        let service = BroadcastService()
        let members = try (0..<4).map { try Member(service, on: loops[$0 % 2]) }
        #expect(service.memberCount == 4)

        try members[1].receive(.text("to all"))
        try Self.settle(loops)

        let prepared = members.map { $0.connection.sent.compactMap(\.prepared) }
        #expect(prepared.allSatisfy { $0.count == 1 }, "each member, the sender included, gets it once")
        let first = try #require(prepared.first?.first)
        #expect(prepared.allSatisfy { $0.first === first }, "encoded once: the same PreparedMessage for everyone")
        #expect(first.message == .text("to all"))
    }

    @Test func binaryStaysBinary() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let service = BroadcastService()
        let a = try Member(service, on: group.next())
        let b = try Member(service, on: group.next())
        try a.receive(.binary([1, 2, 3] as [UInt8]))
        try Self.settle([group.next()])
        #expect(b.connection.sentMessages == [.binary([1, 2, 3] as [UInt8])])
    }

    @Test func aClosedConnectionLeavesTheGroup() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        defer { try? group.syncShutdownGracefully() }
        let loops = [group.next(), group.next()]
        let service = BroadcastService()
        let stays = try Member(service, on: loops[0])
        let leaves = try Member(service, on: loops[1])
        #expect(service.memberCount == 2)

        try leaves.closed()
        #expect(service.memberCount == 1)
        try stays.receive(.text("after"))
        try Self.settle(loops)
        #expect(leaves.connection.sent.isEmpty)
        #expect(stays.connection.sentMessages == [.text("after")])

        try stays.closed()
        #expect(service.memberCount == 0)
    }

    @Test func separateServicesAreSeparateGroups() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let chat = try Member(BroadcastService(), on: loop)
        let news = try Member(BroadcastService(), on: loop)
        try chat.receive(.text("chat only"))
        try Self.settle([loop])
        #expect(chat.connection.sentMessages == [.text("chat only")])
        #expect(news.connection.sent.isEmpty)
    }
}
