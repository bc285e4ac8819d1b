import NIOCore
import NIOPosix
import Testing
import WebSocketAPI
import WebSocketAPITestSupport
import WSGateServices

/// Named topics (`/broadcast/{topic}`) and who may publish and subscribe, through `RecordingConnection`s: the
/// handshake decision the transport asks the service for, then the handler as the transport drives it.
@Suite struct BroadcastTopicsTests {
    /// A connection to `path` that the service accepted, with its handler opened on `loop`.
    /// `@unchecked Sendable`: the handler is only touched inside tasks submitted to `connection.eventLoop`.
    final class Client: @unchecked Sendable {
        let connection: RecordingConnection
        let handler: any WebSocketHandler

        init(_ service: BroadcastService, path: String, identity: WebSocketIdentity? = nil, on loop: any EventLoop) throws {
            var request = WebSocketRequest(path: path, wire: .rfc6455)
            request.identity = identity
            connection = RecordingConnection(eventLoop: loop, request: request)
            handler = service.makeHandler()
            try loop.submit { self.handler.connectionDidOpen(self.connection) }.wait()
        }

        func send(_ message: WebSocketMessage) throws {
            try connection.eventLoop.submit { self.handler.connection(self.connection, didReceive: message) }.wait()
            try connection.eventLoop.submit {}.wait()
        }

        func closed() throws {
            try connection.eventLoop.submit {
                self.handler.connectionDidClose(self.connection, info: WebSocketCloseInfo(code: 1000, reason: "", wasClean: true))
            }.wait()
        }
    }

    static func status(_ decision: ServiceDecision) -> Int? {
        if case .reject(let rejection) = decision { return rejection.status }
        return nil
    }

    static func decide(_ service: BroadcastService, _ path: String, identity: WebSocketIdentity? = nil) -> Int? {
        var request = WebSocketRequest(path: path, wire: .rfc6455)
        request.identity = identity
        return status(service.decide(request: request, offeredSubprotocols: []))
    }

    @Test func topicsDoNotMixAndTheServicePathIsATopicOfItsOwn() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let service = BroadcastService(settings: .init(topics: .default), mountPath: "/broadcast")
        let news = try (0..<2).map { _ in try Client(service, path: "/broadcast/news", on: loop) }
        let sport = try Client(service, path: "/broadcast/sport", on: loop)
        let plain = try Client(service, path: "/broadcast", on: loop)
        #expect(service.topicCount == 3)

        try news[0].send(.text("n"))
        try sport.send(.text("s"))
        try plain.send(.text("p"))
        #expect(news.map(\.connection.sentMessages) == [[.text("n")], [.text("n")]])
        #expect(sport.connection.sentMessages == [.text("s")])
        #expect(plain.connection.sentMessages == [.text("p")])

        for client in news { try client.closed() }
        #expect(service.topicCount == 2, "a topic without subscribers is not kept")
    }

    @Test func badTopicNamesAreRefused400() {
        let service = BroadcastService(settings: .init(topics: .init(maxTopics: 10, maxNameLength: 8)), mountPath: "/b")
        #expect(Self.decide(service, "/b/ok-name") == nil)
        #expect(Self.decide(service, "/b/a.~_:-Z9") == nil, "every allowed character, exactly max_name_length")
        #expect(Self.decide(service, "/b") == nil)
        #expect(Self.decide(service, "/b/") == 400, "empty name")
        #expect(Self.decide(service, "/b/123456789") == 400, "one byte over max_name_length")
        #expect(Self.decide(service, "/b/a/b") == 400, "one segment only")
        #expect(Self.decide(service, "/b/a%20b") == 400, "nothing to decode")
        #expect(Self.decide(service, "/b/caf\u{e9}") == 400)
        #expect(Self.decide(service, "/bx") == 400, "not below the service's path")
    }

    @Test func withoutTopicsTheSubpathsAreNotTopics() {
        let service = BroadcastService(mountPath: "/b")
        // The router only hands such a service its own path; whatever it is handed is the one topic.
        #expect(Self.decide(service, "/b") == nil)
    }

    @Test func theTopicLimitRefusesANewTopic503AndKeepsOldOnesOpen() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let service = BroadcastService(settings: .init(topics: .init(maxTopics: 2, maxNameLength: 16)), mountPath: "/b")
        let a = try Client(service, path: "/b/a", on: loop)
        _ = try Client(service, path: "/b/b", on: loop)
        #expect(Self.decide(service, "/b/c") == 503)
        #expect(Self.decide(service, "/b/a") == nil, "an existing topic still takes subscribers")

        // A subscriber that got past the handshake when the last topic was taken meanwhile is closed 1013.
        let late = try Client(service, path: "/b/c", on: loop)
        #expect(late.connection.closes == [.init(code: .tryAgainLater, reason: "topic limit reached")])
        try a.closed()
        #expect(Self.decide(service, "/b/c") == nil, "a topic freed makes room")
    }

    @Test func subscribeOnlyClientsAreClosed1008WhenTheyPublish() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let service = BroadcastService(settings: .init(publish: .nobody), mountPath: "/feed")
        let reader = try Client(service, path: "/feed", on: loop)
        let other = try Client(service, path: "/feed", on: loop)
        try reader.send(.text("not allowed"))
        #expect(reader.connection.closes == [.init(code: .policyViolation, reason: "this connection may not publish here")])
        #expect(other.connection.sent.isEmpty, "what it sent reached nobody")
    }

    @Test func publishOnlyClientsReceiveNothing() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let service = BroadcastService(settings: .init(subscribe: .nobody), mountPath: "/in")
        let a = try Client(service, path: "/in", on: loop)
        let b = try Client(service, path: "/in", on: loop)
        try a.send(.text("x"))
        #expect(a.connection.sent.isEmpty && b.connection.sent.isEmpty)
        #expect(a.connection.closes.isEmpty)
        #expect(service.memberCount == 0)
    }

    @Test func permissionsFollowTheHandshakeIdentity() throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer { try? group.syncShutdownGracefully() }
        let loop = group.next()
        let mayPublish: BroadcastPermission = .identity { identity in
            identity.claims["scope"]?.string?.split(separator: " ").contains("publish") ?? false
        }
        let service = BroadcastService(settings: .init(publish: mayPublish, subscribe: .identity { _ in true }), mountPath: "/t")
        let publisher = WebSocketIdentity(method: "jwt", subject: "p", claims: ["scope": .string("read publish")])
        let reader = WebSocketIdentity(method: "jwt", subject: "r", claims: ["scope": .string("read")])
        #expect(Self.decide(service, "/t", identity: nil) == 403, "anonymous: neither publish nor subscribe")

        let p = try Client(service, path: "/t", identity: publisher, on: loop)
        let r = try Client(service, path: "/t", identity: reader, on: loop)
        try p.send(.text("from p"))
        #expect(r.connection.sentMessages == [.text("from p")])
        #expect(p.connection.sentMessages == [.text("from p")])
        try r.send(.text("from r"))
        #expect(r.connection.closes.map(\.code) == [.policyViolation])
        #expect(p.connection.sentMessages == [.text("from p")])
    }

    @Test func bothNobodyIsForbidden() {
        let service = BroadcastService(settings: .init(publish: .nobody, subscribe: .nobody), mountPath: "/x")
        #expect(Self.decide(service, "/x") == 403)
    }
}
