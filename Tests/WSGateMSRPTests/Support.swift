import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
@testable import WSGateMSRP

/// A connection that keeps what the relay writes to it, completing each write at once: the source of a forward,
/// seen from the relay.
final class RecordingTransport: MSRPLegTransport {
    let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    var carriesMessages: Bool { false }
    private let bytes = NIOLockedValueBox(ByteBuffer())

    func write(_ data: ByteBuffer, promise: EventLoopPromise<Void>) {
        var data = data
        bytes.withLockedValue { _ = $0.writeBuffer(&data) }
        promise.succeed()
    }

    func flush() {}
    func close() {}

    /// Everything written so far, as chunks (parsed with the engine's reader).
    var chunks: [MSRPChunk] {
        var input = bytes.withLockedValue { $0 }
        var reader = MSRPChunkReader(limits: .init(maxBodyBytes: 1 << 24))
        var out: [MSRPChunk] = []
        while case .success(let chunk)? = reader.next(&input) { out.append(chunk) }
        return out
    }
}

/// A leg of the relay over a `RecordingTransport`.
struct RecordingLeg {
    let leg: MSRPLeg
    let transport: RecordingTransport

    init(relay: MSRPRelayService) {
        transport = RecordingTransport()
        leg = relay.register(transport)
    }

    var id: MSRPRelay.ConnectionID { leg.id }

    /// What reached the connection: writes are made on its event loop, so this waits for the ones already issued.
    var chunks: [MSRPChunk] {
        try? transport.eventLoop.submit {}.wait()
        return transport.chunks
    }

    var reports: [MSRPHead] { chunks.map(\.head).filter { $0.method == "REPORT" } }
}

/// A next hop on 127.0.0.1 for the relay to forward to: it counts the connections it accepts and the requests it
/// reads, and answers each request as told — with a status line written here by hand, not by the relay's code.
final class NextHopPeer: Sendable {
    enum Behaviour: Sendable {
        case silent
        case answer(code: Int, comment: String)
    }

    private let counts: NIOLockedValueBox<(connections: Int, requests: [String])>
    private let channel: any Channel

    init(_ behaviour: Behaviour) async throws {
        let counts = NIOLockedValueBox((connections: 0, requests: [String]()))
        self.counts = counts
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                counts.withLockedValue { $0.connections += 1 }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(PeerHandler(behaviour: behaviour, counts: counts))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    var port: Int { channel.localAddress!.port! }
    var uri: String { "msrp://127.0.0.1:\(port)/bob;tcp" }
    var connections: Int { counts.withLockedValue { $0.connections } }
    var requests: [String] { counts.withLockedValue { $0.requests } }

    func close() async throws {
        try await channel.close()
    }

    private final class PeerHandler: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let behaviour: Behaviour
        let counts: NIOLockedValueBox<(connections: Int, requests: [String])>
        var reader = MSRPChunkReader()

        init(behaviour: Behaviour, counts: NIOLockedValueBox<(connections: Int, requests: [String])>) {
            self.behaviour = behaviour
            self.counts = counts
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            var input = unwrapInboundIn(data)
            while case .success(let chunk)? = reader.next(&input) {
                guard let method = chunk.head.method else { continue }
                counts.withLockedValue { $0.requests.append(method) }
                guard case .answer(let code, let comment) = behaviour, method != "REPORT" else { continue }
                let tid = chunk.head.transactionID
                let previous = chunk.head["From-Path"]?.split(separator: " ").first.map(String.init) ?? ""
                let text = "MSRP \(tid) \(code) \(comment)\r\nTo-Path: \(previous)\r\nFrom-Path: msrp://127.0.0.1/bob;tcp\r\n-------\(tid)$\r\n"
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            }
        }
    }
}

/// A port nothing listens on (bound, then closed).
func closedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

/// Polls `condition` until it holds or `timeout` passes; returns whether it held.
func eventually(within timeout: Duration = .seconds(10), _ condition: () -> Bool) async throws -> Bool {
    let clock = ContinuousClock()
    let end = clock.now + timeout
    while clock.now < end {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A relay on 127.0.0.1 whose own listeners are on ports 1 and 2 (never bound here: the tests feed it chunks),
/// with Alice authenticated on a recording leg.
struct RelayWithAlice {
    static let alice = "msrp://alice.invalid:2855/s1;tcp"
    let service: MSRPRelayService
    let alice: RecordingLeg
    let usePath: String

    init(transactionTimeout: Duration = .seconds(30)) throws {
        var settings = MSRPRelaySettings(host: "127.0.0.1", tcpPort: 1, webSocketPort: 2)
        settings.transactionTimeout = transactionTimeout
        let service = try MSRPRelayService(settings: settings)
        let alice = RecordingLeg(relay: service)
        service.received(MSRPChunk(head: Self.request("auth0001", "AUTH", to: "msrp://127.0.0.1:1;tcp")), on: alice.id)
        guard let ok = alice.chunks.first?.head, ok.statusCode == 200, let use = ok["Use-Path"] else {
            throw RelayTestError("AUTH was not answered 200: \(alice.chunks)")
        }
        self.service = service
        self.alice = alice
        usePath = use
    }

    static func request(_ tid: String, _ method: String, to: String, _ extra: [(String, String)] = []) -> MSRPHead {
        MSRPHead(transactionID: tid, startLine: .request(method: method),
                 fields: [.init("To-Path", to), .init("From-Path", alice)] + extra.map { .init($0.0, $0.1) })
    }

    /// Alice's SEND to `peer` through the relay.
    func send(to peer: String, _ tid: String, messageID: String = "m1", failureReport: String? = nil) {
        var extra = [("Message-ID", messageID), ("Byte-Range", "1-5/5")]
        if let failureReport { extra.append(("Failure-Report", failureReport)) }
        extra.append(("Content-Type", "text/plain"))
        service.received(MSRPChunk(head: Self.request(tid, "SEND", to: "\(usePath) \(peer)", extra), body: ByteBuffer(string: "hello")),
                         on: alice.id)
    }
}

struct RelayTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
