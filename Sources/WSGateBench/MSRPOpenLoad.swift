import Histogram
import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// `wsgate bench --mode msrp --rate R`: relayed SENDs offered at a fixed total rate, on a schedule, through an
/// MSRP relay (wsgate's or another — Kamailio). `pairs` pairs of a sender on the relay's WebSocket leg and a
/// receiver on its TCP leg, both authenticated; sender `i` sends to receiver `i`.
///
/// Built to cost the relay's side, not its own: SwiftNIO channels with inline handlers, each SEND serialized from
/// a template into one buffer, no task or actor per message — the async `MSRPClient` this replaces held a core at
/// 2,000 SEND/s, so both relays looked alike. Open loop as wrk2: every millisecond each sender sends what is due,
/// the body carries the time it was due and whether it falls in the measured window (decided once, at the
/// sender), and the receiver measures from that time to the end-line's arrival — a late send counts against the
/// latency. A sender keeps at most `maxInFlight` SENDs unanswered; a due SEND past that is an error, not a wait.
/// The receiver answers every SEND `200`, as an endpoint must (RFC 4975 §7.2).
public enum MSRPOpenLoad {
    public struct Configuration: Sendable {
        /// The relay's WebSocket leg, `ws://host:port/path`.
        public var relay: WebSocketURL
        /// The relay's TCP leg.
        public var receiverHost: String
        public var receiverPort: Int
        public var pairs = 16
        /// Body bytes per SEND (at least the 21-byte stamp).
        public var size = 200
        public var rate: Double = 1000
        public var duration: Double = 5
        public var warmup: Double = 1
        public var drain: Double = 2
        public var threads = System.coreCount

        public init(relay: WebSocketURL, receiverHost: String, receiverPort: Int) {
            self.relay = relay
            self.receiverHost = receiverHost
            self.receiverPort = receiverPort
        }
    }

    /// Unanswered SENDs a sender may have out.
    static let maxInFlight = 1000
    /// The stamp: the due time (20 decimal digits) and `1` when it counts, `0` when not.
    static let stampSize = 21

    public static func run(_ config: Configuration, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> BenchResult {
        try await withLoadGroup(threads: config.threads) { loops in
            try await measure(config, loops: loops, progress: progress)
        }
    }

    private static func measure(_ config: Configuration, loops: [any EventLoop],
                                progress: @escaping @Sendable (String) -> Void) async throws -> BenchResult {
        let window = Window()
        var client = WebSocketClientConfiguration(connectTimeout: .seconds(30), compression: nil)
        client.subprotocols = ["msrp"]
        let relayURI = "msrp://\(config.relay.host):\(config.relay.port);ws"
        let receiverURI = "msrp://\(config.receiverHost):\(config.receiverPort);tcp"
        var pairs: [(sender: LoopBoundConnection<MSRPLoadSender>, receiver: NIOLoopBound<MSRPLoadReceiver>)] = []
        var channels: [any Channel] = []
        let size = max(config.size, stampSize)
        let interval = TimeAmount.nanoseconds(Int64(Double(config.pairs) / max(config.rate, 0.001) * 1e9))
        for i in 0..<config.pairs {
            let loop = loops[i % loops.count]
            // Made on its loop and kept loop-bound: the channel initializer runs there too.
            let receiver = try await loop.submit {
                NIOLoopBound(MSRPLoadReceiver(relayURI: receiverURI, window: window), eventLoop: loop)
            }.get()
            let channel = try await ClientBootstrap(group: loop)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(receiver.value) }
                }
                .connect(host: config.receiverHost, port: config.receiverPort).get()
            channels.append(channel)
            let receiverPath = try await receiver.onLoop { $0.authenticated }.get()
            let sender = try await LoopBoundConnection<MSRPLoadSender>.connect(to: config.relay, configuration: client,
                                                               eventLoop: loops[(i + 1) % loops.count]) {
                MSRPLoadSender(relayURI: relayURI, size: size, window: window, interval: interval)
            }
            let senderPath = try await sender.onLoop { $0.authenticated }.get()
            try await sender.onLoop { try $0.start(toPath: senderPath + receiverPath) }
            pairs.append((sender, receiver))
        }
        progress("\(pairs.count) pairs authenticated; warming up \(config.warmup) s, measuring \(config.duration) s")
        try await Task.sleep(for: .milliseconds(Int(config.warmup * 1000)))
        window.open(at: monotonicNanos())
        try await Task.sleep(for: .milliseconds(Int(config.duration * 1000)))
        window.close(at: monotonicNanos())
        for (sender, _) in pairs { try await sender.onLoop { $0.stop() } }
        try await Task.sleep(for: .milliseconds(Int(config.drain * 1000)))

        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var received: UInt64 = 0, bytes: UInt64 = 0, sent: UInt64 = 0, errors: UInt64 = 0
        for (sender, receiver) in pairs {
            let (h, count, b, e) = try await receiver.onLoop { $0.snapshot() }
            histogram.add(h)
            received += count
            bytes += b
            errors += e
            let (s, senderErrors) = try await sender.onLoop { $0.snapshot() }
            sent += s
            errors += senderErrors
        }
        for (sender, _) in pairs { sender.connection.close(code: .goingAway, reason: "") }
        for channel in channels { channel.close(promise: nil) }
        try? await Task.sleep(for: .milliseconds(200))
        let seconds = max(window.seconds, 1e-9)
        // A SEND of the window that never arrived is an error too: the relay lost it or it arrived past the drain.
        errors += sent > received ? sent - received : 0
        return BenchResult(
            mode: "msrp", url: config.relay.description, connections: config.pairs, connections_established: pairs.count,
            size: max(config.size, stampSize), pipeline: 0, rate: config.rate, binary: false, duration_s: window.seconds,
            messages: received, messages_per_second: Double(received) / seconds, bytes_per_second: Double(bytes) / seconds,
            latency_p50_us: histogram.valueAtPercentile(50), latency_p99_us: histogram.valueAtPercentile(99),
            latency_p999_us: histogram.valueAtPercentile(99.9), latency_max_us: histogram.max,
            latency_mean_us: histogram.mean, handshakes: nil, handshakes_per_second: nil, errors: errors)
    }
}

/// An MSRP URI of this generator's own: a random session id (and, for WebSocket clients, a `.invalid` host).
private func ownURI(host: String, port: Int, transport: String) -> String {
    var generator = SystemRandomNumberGenerator()
    return "msrp://\(host):\(port)/\(MSRPHead.randomToken(length: 16, using: &generator));\(transport)"
}

/// An AUTH without credentials (the relay's WebSocket leg or TCP leg must admit anonymous AUTH).
private func authRequest(to relay: String, from own: String) -> (String, ByteBuffer) {
    var generator = SystemRandomNumberGenerator()
    let head = MSRPHead(transactionID: MSRPHead.makeTransactionID(using: &generator), startLine: .request(method: "AUTH"),
                        fields: [.init("To-Path", relay), .init("From-Path", own)])
    return (head.transactionID, MSRPChunk(head: head).serialized())
}

/// The sending half of a pair, on the relay's WebSocket leg. Lives on its connection's loop (not `Sendable`): the
/// run drives and reads it through `LoopBoundConnection.onLoop`.
final class MSRPLoadSender: WebSocketHandler {
    private let relayURI: String
    private let own = ownURI(host: "bench\(UInt32.random(in: 0...UInt32.max)).invalid", port: 2855, transport: "ws")
    private let size: Int
    private let window: Window
    private let interval: TimeAmount
    private let authPromise: EventLoopPromise<[String]>
    private var authTID = ""
    private var authDone = false
    private var connection: (any WebSocketConnection)?
    private var ticker: RepeatedTask?
    private var scheduleStart: UInt64 = 0
    private var seq: UInt64 = 0
    private var inFlight = 0
    private var inWindow: UInt64 = 0
    private var errors: UInt64 = 0
    /// Everything of a SEND before its transaction id and after it up to the body, written once.
    private var prefix = ""
    private var padding = ""
    private let tidPrefix = String(UInt64.random(in: 0...UInt64.max) & 0xFFFF_FFFF, radix: 36)

    init(relayURI: String, size: Int, window: Window, interval: TimeAmount) {
        self.relayURI = relayURI
        self.size = size
        self.window = window
        self.interval = interval
        authPromise = MultiThreadedEventLoopGroup.singleton.next().makePromise()
    }

    /// The sender's Use-Path once its AUTH was answered.
    var authenticated: EventLoopFuture<[String]> { authPromise.futureResult }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        self.connection = connection
        let (tid, auth) = authRequest(to: relayURI, from: own)
        authTID = tid
        connection.send(.text(String(buffer: auth)), promise: nil)
    }

    /// Starts sending along `path`; called on the connection's loop.
    func start(toPath path: [String]) throws {
        guard let connection else { throw MSRPLoadError.closed }
        prefix = "To-Path: \(path.joined(separator: " "))\r\nFrom-Path: \(own)\r\n"
        padding = String(repeating: "m", count: size - MSRPOpenLoad.stampSize)
        let jitter = Int64.random(in: 0..<max(1, interval.nanoseconds))
        scheduleStart = monotonicNanos() &+ UInt64(jitter)
        let tick = TimeAmount.nanoseconds(max(interval.nanoseconds, 1_000_000))
        // The ticker runs on this loop; the cycle it makes (self → ticker → self) ends with `stop` or the close.
        let onLoop = NIOLoopBound(self, eventLoop: connection.eventLoop)
        ticker = connection.eventLoop.scheduleRepeatedTask(initialDelay: .nanoseconds(jitter), delay: tick) { _ in
            onLoop.value.sendDue()
        }
    }

    /// Stops sending; called on the connection's loop.
    func stop() {
        ticker?.cancel()
        ticker = nil
    }

    /// SENDs of the window and errors so far; called on the connection's loop.
    func snapshot() -> (sent: UInt64, errors: UInt64) { (inWindow, errors) }

    private func sendDue() {
        guard let connection else { return }
        let now = monotonicNanos()
        let step = UInt64(max(1, interval.nanoseconds))
        while true {
            let due = scheduleStart &+ seq &* step
            guard due <= now else { break }
            seq += 1
            let counted = window.contains(due)
            guard inFlight < MSRPOpenLoad.maxInFlight else {
                if counted { errors += 1 }
                continue
            }
            inFlight += 1
            if counted { inWindow += 1 }
            let tid = tidPrefix + "x" + String(seq, radix: 36)
            var stamp = String(due)
            stamp = String(repeating: "0", count: 20 - stamp.utf8.count) + stamp + (counted ? "1" : "0")
            let text = "MSRP \(tid) SEND\r\n\(prefix)Message-ID: \(tid)\r\nByte-Range: 1-\(size)/\(size)\r\n"
                + "Content-Type: text/plain\r\n\r\n\(stamp)\(padding)\r\n-------\(tid)$\r\n"
            connection.send(.text(text), promise: nil)
        }
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        var reader = MSRPChunkReader()
        var data = message.data
        guard case .success(let chunk)? = reader.next(&data), let code = chunk.head.statusCode else { return }
        if chunk.head.transactionID == authTID, !authDone {
            authDone = true
            guard code == 200, let usePath = chunk.head["Use-Path"] else {
                return authPromise.fail(MSRPLoadError.authRefused(code))
            }
            return authPromise.succeed(usePath.split(separator: " ").map(String.init))
        }
        inFlight -= 1
        if code != 200 { errors += 1 }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        if !authDone {
            authDone = true
            authPromise.fail(MSRPLoadError.closed)
        }
        stop()
    }
}

/// The receiving half of a pair, on the relay's TCP leg: answers every SEND and times it.
/// Lives on its channel's loop (not `Sendable`): the run reads it through `NIOLoopBound.onLoop`.
final class MSRPLoadReceiver: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let relayURI: String
    private let window: Window
    private var own = ""
    private var authTID = ""
    private var authDone = false
    private var parser = MSRPParser(limits: .init(maxBodyBytes: 1 << 24))
    private var head: MSRPHead?
    private var stamp: [UInt8] = []
    private var bodyBytes = 0
    private let authPromise: EventLoopPromise<[String]>
    private var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    private var received: UInt64 = 0
    private var bytes: UInt64 = 0
    private var errors: UInt64 = 0

    init(relayURI: String, window: Window) {
        self.relayURI = relayURI
        self.window = window
        authPromise = MultiThreadedEventLoopGroup.singleton.next().makePromise()
    }

    /// The receiver's path for senders (its Use-Path and its own URI) once its AUTH was answered.
    var authenticated: EventLoopFuture<[String]> { authPromise.futureResult }

    func channelActive(context: ChannelHandlerContext) {
        let local = context.channel.localAddress
        own = ownURI(host: local?.ipAddress ?? "127.0.0.1", port: local?.port ?? 2855, transport: "tcp")
        let (tid, auth) = authRequest(to: relayURI, from: own)
        authTID = tid
        context.writeAndFlush(NIOAny(auth), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        var out = ByteBuffer()
        while let event = parser.next(&input) {
            switch event {
            case .failure:
                errors += 1
                context.close(promise: nil)
                return
            case .success(.head(let h, _)):
                head = h
                stamp.removeAll(keepingCapacity: true)
                bodyBytes = 0
            case .success(.body(let piece)):
                if stamp.count < MSRPOpenLoad.stampSize {
                    stamp += piece.readableBytesView.prefix(MSRPOpenLoad.stampSize - stamp.count)
                }
                bodyBytes += piece.readableBytes
            case .success(.end):
                guard let h = head else { continue }
                head = nil
                ended(h, into: &out)
            }
        }
        if out.readableBytes > 0 { context.writeAndFlush(NIOAny(out), promise: nil) }
    }

    private func ended(_ h: MSRPHead, into out: inout ByteBuffer) {
        if h.transactionID == authTID, let code = h.statusCode, !authDone {
            authDone = true
            guard code == 200, let usePath = h["Use-Path"] else { return authPromise.fail(MSRPLoadError.authRefused(code)) }
            return authPromise.succeed(usePath.split(separator: " ").map(String.init) + [own])
        }
        guard h.method == "SEND" else { return }
        // 200 back to the previous hop (RFC 4975 §7.2), then the timing.
        let previous = h["From-Path"].flatMap { $0.split(separator: " ").first }.map(String.init) ?? ""
        out.writeString("MSRP \(h.transactionID) 200 OK\r\nTo-Path: \(previous)\r\nFrom-Path: \(own)\r\n-------\(h.transactionID)$\r\n")
        guard stamp.count == MSRPOpenLoad.stampSize, stamp[20] == UInt8(ascii: "1"),
              let due = UInt64(String(decoding: stamp[0..<20], as: UTF8.self)) else { return }
        received += 1
        bytes += UInt64(bodyBytes)
        _ = histogram.record((monotonicNanos() &- due) / 1000)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !authDone {
            authDone = true
            authPromise.fail(MSRPLoadError.closed)
        }
    }

    /// What it got so far; called on the channel's loop.
    func snapshot() -> (Histogram<UInt64>, UInt64, UInt64, UInt64) { (histogram, received, bytes, errors) }
}

enum MSRPLoadError: Error, CustomStringConvertible {
    case closed
    case authRefused(Int)

    var description: String {
        switch self {
        case .closed: return "the relay closed the connection"
        case .authRefused(let code): return "the relay answered AUTH with \(code)"
        }
    }
}
