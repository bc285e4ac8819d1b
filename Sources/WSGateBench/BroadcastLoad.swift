import Histogram
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// `wsgate bench --mode broadcast`: `publishers` connections send numbered, timestamped binary messages at
/// `rate` in total (open loop) to a broadcast topic, `subscribers` connections receive them — spread round-robin
/// over every URL given, so one run can cover several gateways of a cluster. Each subscriber should get every
/// message published in the measured window, once, in each publisher's order: what it got counts as delivered,
/// what it should have got and did not as lost, a repeat or a step back in a publisher's numbers as an error.
/// Latency: from the time a message was due to be sent (open loop: a late send counts against the latency, as in wrk2) to
/// the subscriber's receipt, both in this process (one clock).
public enum BroadcastLoad {
    public struct Configuration: Sendable {
        public var urls: [WebSocketURL]
        public var subscribers = 100
        public var publishers = 4
        /// Bytes per message (at least the 24-byte header: publisher, whether it counts, number, send time).
        public var size = 64
        /// Messages per second over all publishers.
        public var rate: Double = 10_000
        public var duration: Double = 10
        public var warmup: Double = 1
        /// Seconds after the window for the last messages to arrive before counting what is lost.
        public var drain: Double = 2
        public var threads = System.coreCount
        public var token: String?

        public init(urls: [WebSocketURL]) { self.urls = urls }
    }

    /// What `--json` prints for this mode.
    public struct Result: Codable, Sendable {
        public var mode = "broadcast"
        public var urls: [String]
        public var publishers: Int
        public var subscribers: Int
        public var subscribers_established: Int
        public var size: Int
        public var rate: Double
        public var duration_s: Double
        /// Messages sent in the window.
        public var published: UInt64
        /// published × subscribers.
        public var expected_deliveries: UInt64
        public var delivered: UInt64
        public var lost: UInt64
        public var deliveries_per_second: Double
        public var latency_p50_us: UInt64
        public var latency_p99_us: UInt64
        public var latency_p999_us: UInt64
        public var latency_max_us: UInt64
        /// Repeats, steps back in a publisher's numbers, malformed messages, dropped connections.
        public var errors: UInt64
    }

    static let headerSize = 24

    public static func run(_ config: Configuration, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> Result {
        precondition(!config.urls.isEmpty)
        return try await withLoadGroup(threads: config.threads) { loops in
            try await measure(config, loops: loops, progress: progress)
        }
    }

    private static func measure(_ config: Configuration, loops: [any EventLoop],
                                progress: @escaping @Sendable (String) -> Void) async throws -> Result {
        let window = Window()
        var client = WebSocketClientConfiguration(connectTimeout: .seconds(30), compression: nil)
        client.credential = config.token.map { ClientCredential(token: $0) }

        var subscribers: [LoopBoundConnection<SubscriberHandler>] = []
        var failed: UInt64 = 0
        let publisherCount = config.publishers
        for i in 0..<config.subscribers {
            do {
                let subscriber = try await LoopBoundConnection<SubscriberHandler>.connect(
                    to: config.urls[i % config.urls.count], configuration: client, eventLoop: loops[i % loops.count]
                ) { SubscriberHandler(window: window, publishers: publisherCount) }
                subscribers.append(subscriber)
            } catch {
                failed += 1
            }
        }
        progress("\(subscribers.count) subscribers open, \(failed) failed")
        var publishers: [LoopBoundConnection<PublisherHandler>] = []
        let interval = TimeAmount.nanoseconds(Int64(Double(config.publishers) / max(config.rate, 0.001) * 1e9))
        let size = max(config.size, headerSize)
        for p in 0..<config.publishers {
            do {
                let publisher = try await LoopBoundConnection<PublisherHandler>.connect(
                    to: config.urls[(p + 1) % config.urls.count], configuration: client, eventLoop: loops[p % loops.count]
                ) { PublisherHandler(id: UInt32(p), window: window, size: size, interval: interval) }
                publishers.append(publisher)
            } catch {
                failed += 1
            }
        }
        for publisher in publishers { try await publisher.onLoop { $0.start() } }

        try await Task.sleep(for: .milliseconds(Int(config.warmup * 1000)))
        window.open(at: monotonicNanos())
        try await Task.sleep(for: .milliseconds(Int(config.duration * 1000)))
        window.close(at: monotonicNanos())
        for publisher in publishers { try await publisher.onLoop { $0.stop() } }
        try await Task.sleep(for: .milliseconds(Int(config.drain * 1000)))

        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var delivered: UInt64 = 0, errors = failed, established = 0
        for s in subscribers {
            let (h, count, e, open) = try await s.onLoop { $0.snapshot() }
            histogram.add(h)
            delivered += count
            errors += e
            if open { established += 1 }
        }
        var published: UInt64 = 0
        for p in publishers { published += try await p.onLoop { $0.inWindow } }
        for connection in subscribers.map(\.connection) + publishers.map(\.connection) {
            connection.close(code: .goingAway, reason: "")
        }
        try? await Task.sleep(for: .milliseconds(300))
        let expected = published * UInt64(subscribers.count)
        let seconds = max(window.seconds, 1e-9)
        return Result(urls: config.urls.map(\.description), publishers: config.publishers, subscribers: config.subscribers,
                      subscribers_established: established, size: max(config.size, headerSize), rate: config.rate,
                      duration_s: window.seconds, published: published, expected_deliveries: expected, delivered: delivered,
                      lost: expected > delivered ? expected - delivered : 0, deliveries_per_second: Double(delivered) / seconds,
                      latency_p50_us: histogram.valueAtPercentile(50), latency_p99_us: histogram.valueAtPercentile(99),
                      latency_p999_us: histogram.valueAtPercentile(99.9), latency_max_us: histogram.max, errors: errors)
    }
}

/// The measured window: messages sent inside it are the ones counted, wherever and whenever they arrive.
final class Window: Sendable {
    private let bounds = NIOLockedValueBox<(start: UInt64, end: UInt64)>((.max, .max))

    func open(at now: UInt64) { bounds.withLockedValue { $0 = (now, .max) } }
    func close(at now: UInt64) { bounds.withLockedValue { $0.end = now } }
    func contains(_ sentAt: UInt64) -> Bool {
        let b = bounds.withLockedValue { $0 }
        return sentAt >= b.start && sentAt < b.end
    }
    var seconds: Double {
        let b = bounds.withLockedValue { $0 }
        return b.end == .max || b.start == .max ? 0 : Double(b.end - b.start) / 1e9
    }
}

/// One publisher: a message every `interval` on average from its event loop, numbered from 0. Lives on that loop
/// (not `Sendable`): the run drives and reads it through `LoopBoundConnection.onLoop`.
final class PublisherHandler: WebSocketHandler {
    private let id: UInt32
    private let window: Window
    private let size: Int
    private let interval: TimeAmount
    private var connection: (any WebSocketConnection)?
    private var ticker: RepeatedTask?
    private var seq: UInt64 = 0
    private var scheduleStart: UInt64 = 0
    /// Messages sent that count: their due time fell inside the window.
    private(set) var inWindow: UInt64 = 0

    init(id: UInt32, window: Window, size: Int, interval: TimeAmount) {
        self.id = id
        self.window = window
        self.size = size
        self.interval = interval
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) { self.connection = connection }

    /// Starts sending; called on the connection's loop.
    func start() {
        guard let connection else { return }
        // Open loop on a schedule, not on a timer per message: a repeated task's delay counts from the end of
        // each run and timers fire late under load, so one message per tick falls far short of the rate asked
        // for (measured: 5k of 20k msg/s on two cores). Each tick sends every message due by now, the way wrk2
        // keeps its rate; a message's timestamp is the time it was due, so a late tick shows as latency.
        let jitter = Int64.random(in: 0..<max(1, interval.nanoseconds))
        scheduleStart = monotonicNanos() &+ UInt64(jitter)
        let tick = TimeAmount.nanoseconds(max(interval.nanoseconds, Self.tick.nanoseconds))
        // The ticker runs on this loop; the cycle it makes (self → ticker → self) ends with `stop`.
        let onLoop = NIOLoopBound(self, eventLoop: connection.eventLoop)
        ticker = connection.eventLoop.scheduleRepeatedTask(initialDelay: .nanoseconds(jitter), delay: tick) { _ in
            onLoop.value.sendDue()
        }
    }

    /// How often a publisher wakes to send what is due when its interval is shorter than this.
    static let tick = TimeAmount.milliseconds(1)

    /// Stops sending; called on the connection's loop.
    func stop() {
        ticker?.cancel()
        ticker = nil
    }

    /// Sends every message whose time has come: message `n` is due at `scheduleStart + n × interval`.
    private func sendDue() {
        guard let connection else { return }
        let now = monotonicNanos()
        let step = UInt64(max(1, interval.nanoseconds))
        while true {
            let due = scheduleStart &+ seq &* step
            guard due <= now else { break }
            sendOne(on: connection, dueAt: due)
        }
    }

    private func sendOne(on connection: any WebSocketConnection, dueAt due: UInt64) {
        // Whether it counts is decided here, once, and travels in the message: a subscriber asking the window
        // itself could answer otherwise for a message sent just as the window closed (the likely cause of a
        // three-node run that came out 6 deliveries short: one message, missing at all six subscribers alike,
        // its own node's included, which the backplane does not touch).
        let counted = window.contains(due)
        var buffer = ByteBuffer()
        buffer.reserveCapacity(size)
        buffer.writeMultipleIntegers(id, counted ? UInt32(1) : UInt32(0), seq, due)
        buffer.writeRepeatingByte(0x2E, count: size - BroadcastLoad.headerSize)
        seq += 1
        if counted { inWindow += 1 }
        connection.send(.binary(buffer), promise: nil)
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {}
}

/// One subscriber: latency and count of what was sent in the window, and checks each publisher's numbers only go up.
/// Lives on its connection's loop (not `Sendable`): the run reads it through `LoopBoundConnection.onLoop`.
final class SubscriberHandler: WebSocketHandler {
    private let window: Window
    private var lastSeq: [UInt64?]
    private var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
    private var received: UInt64 = 0
    private var errors: UInt64 = 0
    private var open = false

    init(window: Window, publishers: Int) {
        self.window = window
        lastSeq = Array(repeating: nil, count: publishers)
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) { open = true }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        var data = message.data
        guard let (publisher, counted, seq, sentAt) = data.readMultipleIntegers(as: (UInt32, UInt32, UInt64, UInt64).self),
              Int(publisher) < lastSeq.count else {
            errors += 1
            return
        }
        if let last = lastSeq[Int(publisher)], seq <= last { errors += 1 } // a repeat or out of order
        lastSeq[Int(publisher)] = seq
        guard counted == 1 else { return }
        received += 1
        _ = histogram.record((monotonicNanos() &- sentAt) / 1000)
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        if open, window.seconds == 0 { errors += 1 } // dropped before the end
        open = false
    }

    /// What it got so far; called on the connection's loop.
    func snapshot() -> (Histogram<UInt64>, UInt64, UInt64, Bool) { (histogram, received, errors, open) }
}
