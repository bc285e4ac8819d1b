import Histogram
import NIOCore
import NIOPosix
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// Drives a WebSocket server with the load `BenchConfiguration` describes, on its own event loops, and
/// measures it. Each loop keeps its own counters and histogram; they are merged at the end.
public final class LoadGenerator: Sendable {
    public let configuration: BenchConfiguration
    private let progress: @Sendable (String) -> Void
    private let tick: @Sendable (UInt64) -> Void
    /// `configuration.tls` with one context for every `wss://` connection (a context per connection would read the
    /// CA file each time); when building it fails, each connection fails with the reason.
    private let tls: ClientTLS

    /// `progress` gets a line each second; `tick` the number of messages echoed so far (for a harness that
    /// samples its own counters, e.g. allocations, over the same seconds).
    public init(configuration: BenchConfiguration, progress: @escaping @Sendable (String) -> Void = { _ in },
                tick: @escaping @Sendable (UInt64) -> Void = { _ in }) {
        self.configuration = configuration
        self.progress = progress
        self.tick = tick
        self.tls = configuration.url.secure ? (try? configuration.tls.sharingOneContext()) ?? configuration.tls : configuration.tls
    }

    public func run() async throws -> BenchResult {
        let config = configuration
        if config.mode == .flood { return try await FloodLoad.run(config, progress: progress) }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, config.threads))
        let loops = Array(group.makeIterator())
        // Each loop's stats are that loop's: its connections record into them there, and this task reads and
        // sets them through `submit`, which the box checks.
        let stats = loops.map { NIOLoopBoundBox.makeBoxSendingValue(LoopStats(eventLoop: $0), eventLoop: $0) }
        let kind: WebSocketMessage.Kind = config.binary ? .binary : .text
        let messages: [WebSocketMessage] = switch config.payload {
        case .filler: [WebSocketMessage(kind: kind, data: ByteBuffer(repeating: UInt8(ascii: "x"), count: config.size))]
        case .chat: ChatCorpus.messages(count: 1024).map { WebSocketMessage(kind: kind, data: ByteBuffer(bytes: $0)) }
        }
        let message = messages[0]
        var connectErrors: UInt64 = 0
        var firstConnectError: (any Error)?
        var connections: [any WebSocketConnection] = []

        switch config.mode {
        case .flood:
            preconditionFailure("run by FloodLoad")
        case .echo, .idle:
            let interval: TimeAmount? = config.rate.map { rate in
                .nanoseconds(Int64(Double(config.connections) / max(rate, 0.001) * 1e9))
            }
            (connections, connectErrors, firstConnectError) = await openConnections(loops: loops, stats: stats) { stats in
                config.mode == .idle
                    ? IdleHandler(stats: stats, messages: messages, count: config.idleMessages) as any WebSocketHandler
                    : EchoLoadHandler(stats: stats, messages: messages, pipeline: max(1, config.pipeline), interval: interval)
            }
            progress("\(connections.count) connections open, \(connectErrors) failed"
                + (firstConnectError.map { " (the first: \($0))" } ?? ""))
        case .handshake:
            for i in 0..<config.connections {
                let loopStats = stats[i % stats.count], client = clientConfiguration(index: i)
                loopStats.eventLoop.execute {
                    HandshakeLoop(stats: loopStats.value, url: config.url, configuration: client, message: message).start()
                }
            }
        }

        let reporter = Task { [progress, tick] in
            var last: UInt64 = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                let (total, open, errors) = await Self.snapshot(stats)
                tick(total)
                progress("\(total - last) msg/s, \(open) connections, \(errors) errors")
                last = total
            }
        }
        defer { reporter.cancel() }

        try await Task.sleep(for: .milliseconds(Int(config.warmup * 1000)))
        await Self.setPhase(.measuring, on: stats)
        let start = monotonicNanos()
        let cpuBefore = GeneratorCPU.now()
        try await Task.sleep(for: .milliseconds(Int(config.duration * 1000)))
        await Self.setPhase(.stopping, on: stats)
        let elapsed = Double(monotonicNanos() - start) / 1e9
        let cpu = GeneratorCPU.now().cores(since: cpuBefore, seconds: elapsed)
        reporter.cancel()

        var result = try await merge(stats, elapsed: elapsed, extraErrors: connectErrors)
        result.generator_cpu_cores = cpu
        for connection in connections { connection.close(code: .goingAway, reason: "") }
        try? await Task.sleep(for: .milliseconds(connections.isEmpty ? 0 : 500))
        try? await group.shutdownGracefully()
        return result
    }

    private func clientConfiguration(index: Int) -> WebSocketClientConfiguration {
        var client = WebSocketClientConfiguration(connectTimeout: .seconds(30))
        client.compression = configuration.compression ? .default : nil
        client.credential = configuration.token.map { ClientCredential(token: $0) }
        client.tls = tls
        if !configuration.sourceAddresses.isEmpty {
            let host = configuration.sourceAddresses[index % configuration.sourceAddresses.count]
            client.localAddress = try? SocketAddress(ipAddress: host, port: 0)
        }
        return client
    }

    /// Opens `configuration.connections` connections, `connectConcurrency` at a time.
    private func openConnections(
        loops: [any EventLoop], stats: [NIOLoopBoundBox<LoopStats>],
        makeHandler: @escaping @Sendable (LoopStats) -> any WebSocketHandler
    ) async -> ([any WebSocketConnection], UInt64, (any Error)?) {
        var opened: [any WebSocketConnection] = []
        var failed: UInt64 = 0
        var firstError: (any Error)?
        let total = configuration.connections
        var next = 0
        while next < total {
            let batch = next..<min(total, next + max(1, configuration.connectConcurrency))
            let futures = batch.map { i -> EventLoopFuture<any WebSocketConnection> in
                let loopStats = stats[i % stats.count]
                let loop = loopStats.eventLoop
                return loop.flatSubmit {
                    WebSocketClient.connect(to: self.configuration.url, configuration: self.clientConfiguration(index: i),
                                            handler: makeHandler(loopStats.value), eventLoop: loop)
                }
            }
            for future in futures {
                do {
                    opened.append(try await future.get())
                } catch {
                    failed += 1
                    if firstError == nil { firstError = error }
                }
            }
            next = batch.upperBound
            if total >= 5000, next % 5000 == 0 { progress("opened \(opened.count) of \(total)") }
        }
        return (opened, failed, firstError)
    }

    private static func setPhase(_ phase: LoopStats.Phase, on stats: [NIOLoopBoundBox<LoopStats>]) async {
        for s in stats {
            try? await s.eventLoop.submit { s.value.phase = phase }.get()
        }
    }

    private static func snapshot(_ stats: [NIOLoopBoundBox<LoopStats>]) async -> (UInt64, Int, UInt64) {
        var total: UInt64 = 0, open = 0, errors: UInt64 = 0
        for box in stats {
            if let (p, e, err) = try? await box.eventLoop.submit({
                let s = box.value
                return (s.progress, s.established, s.errors)
            }).get() {
                total += p; open += e; errors += err
            }
        }
        return (total, open, errors)
    }

    private func merge(_ stats: [NIOLoopBoundBox<LoopStats>], elapsed: Double, extraErrors: UInt64) async throws -> BenchResult {
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        var messages: UInt64 = 0, bytes: UInt64 = 0, handshakes: UInt64 = 0, errors = extraErrors, established = 0
        for box in stats {
            let (h, m, b, hs, e, open) = try await box.eventLoop.submit {
                let s = box.value
                return (s.histogram, s.messages, s.bytes, s.handshakes, s.errors, s.established)
            }.get()
            histogram.add(h)
            messages += m; bytes += b; handshakes += hs; errors += e; established += open
        }
        let c = configuration
        let seconds = max(elapsed, 1e-9)
        return BenchResult(
            mode: c.mode.rawValue, url: c.url.description, connections: c.connections,
            connections_established: c.mode == .handshake ? 0 : established, size: c.size,
            pipeline: c.pipeline, rate: c.rate, binary: c.binary, duration_s: elapsed, messages: messages,
            messages_per_second: Double(messages) / seconds, bytes_per_second: Double(bytes) / seconds,
            latency_p50_us: histogram.valueAtPercentile(50), latency_p99_us: histogram.valueAtPercentile(99),
            latency_p999_us: histogram.valueAtPercentile(99.9), latency_max_us: histogram.max,
            latency_mean_us: histogram.totalCount == 0 ? 0 : histogram.mean,
            handshakes: c.mode == .handshake ? handshakes : nil,
            handshakes_per_second: c.mode == .handshake ? Double(handshakes) / seconds : nil,
            errors: errors)
    }
}
