#if canImport(Glibc)
import Glibc
#endif
import CoreMetrics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import PostgresNIO
import WebSocketAPI
import WSGateServices

/// The broadcast backplane on PostgreSQL: what a node's clients publish is written to one table, a row per batch
/// (through `wsgate_backplane_publish_batch`, which `NOTIFY`s), every node `LISTEN`s and reads the batches after
/// its cursor, and delivers the other nodes' messages to its local subscribers — each message once, in each
/// publisher's order, encoded once per node. Payloads of any size travel in the table (a `NOTIFY` carries only the last id, so its
/// 8000-byte limit does not apply).
///
/// PostgreSQL unreachable: local traffic goes on; published messages wait in the bounded outbox; the reader and
/// the writer reconnect with backoff, and the reader catches up from its cursor — or, when batches it never read were
/// pruned meanwhile (older than the retention), reports the gap in the log and the metrics.
///
/// The decisions are `BackplaneOutbox`'s and `BackplaneInbox`'s (structs, unit-tested); this class does the I/O:
/// three connections (reader, writer, pruner), each looping connect → work → on error, back off and retry.
public final class PostgresBackplane: BroadcastFanOut, Sendable {
    public let configuration: BackplaneConfiguration
    private let logger: Logger
    let metrics: BackplaneMetrics
    /// A random number for this process: with the publish number, tells a repeated write from a new message.
    private let incarnation = Int64.random(in: 1 ... .max)
    private let state: NIOLockedValueBox<State>
    private let wakeWriter: AsyncStream<Void>.Continuation
    private let writerWakeups: AsyncStream<Void>

    private struct State {
        var outbox: BackplaneOutbox
        var inbox: BackplaneInbox
        var services: [String: BroadcastService] = [:]
        var readerUp = false
        var writerUp = false
    }

    public init(configuration: BackplaneConfiguration, logger: Logger = Logger(label: "wsgate.backplane"),
                metrics factory: (any MetricsFactory)? = nil) {
        self.configuration = configuration
        self.logger = logger
        metrics = factory.map { BackplaneMetrics(nodeID: configuration.nodeID, factory: $0) }
            ?? BackplaneMetrics(nodeID: configuration.nodeID)
        var limits = BackplaneOutbox.Limits()
        limits.maxBufferedBytes = configuration.maxBufferedBytes
        state = NIOLockedValueBox(State(outbox: BackplaneOutbox(limits: limits), inbox: BackplaneInbox(nodeID: configuration.nodeID)))
        (writerWakeups, wakeWriter) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Routes the other nodes' messages for `service`'s path to it.
    public func attach(_ service: BroadcastService) {
        state.withLockedValue { $0.services[service.mountPath] = service }
    }

    // MARK: BroadcastFanOut

    public func published(_ message: WebSocketMessage, service: String, topic: BroadcastTopicName) {
        let (dropped, queued) = state.withLockedValue { s in
            (s.outbox.enqueue(BackplaneMessage(service: service, topic: topic.rawValue, message: message)), s.outbox.queuedCount)
        }
        if dropped > 0 {
            metrics.dropped(dropped)
            logger.warning("backplane outbox full: oldest messages dropped, other nodes will not get them", metadata: [
                "dropped": "\(dropped)", "limit_bytes": "\(configuration.maxBufferedBytes)",
            ])
        }
        metrics.queuedNow(queued)
        wakeWriter.yield()
    }

    // MARK: Status

    /// Whether both the reader and the writer are connected.
    public var isConnected: Bool { state.withLockedValue { $0.readerUp && $0.writerUp } }

    /// Waits until connected, up to `timeout`; false if it was not.
    public func waitUntilConnected(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if isConnected { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return isConnected
    }

    /// The figures the console shows.
    public var status: Status {
        let totals = metrics.snapshot
        return Status(nodeID: configuration.nodeID, url: configuration.displayURL, connected: isConnected,
                      caughtUp: totals.caughtUp, published: totals.published, received: totals.received,
                      queued: totals.queued, gaps: totals.gaps, gapMessages: totals.gapMessages, dropped: totals.dropped,
                      lagSeconds: totals.lagSeconds)
    }

    public struct Status: Sendable, Equatable {
        public var nodeID: String
        public var url: String
        public var connected: Bool
        public var caughtUp: Bool
        public var published: Int
        public var received: Int
        public var queued: Int
        public var gaps: Int
        public var gapMessages: Int64
        public var dropped: Int
        public var lagSeconds: Double
    }

    // MARK: Running

    /// Reads, writes and prunes until the task is cancelled.
    public func run() async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.keepConnected(role: "reader") { try await self.read(on: $0) } }
            group.addTask { await self.writeLoop() }
            group.addTask { await self.keepConnected(role: "pruner") { try await self.prune(on: $0) } }
        }
    }

    /// Connect, run `work` until it fails, then back off and again — until cancelled.
    private func keepConnected(role: String, _ work: (PostgresConnection) async throws -> Void) async {
        var retry = Retry(role: role, backplane: self)
        while !Task.isCancelled {
            do {
                let connection = try await connect(role: role)
                retry.succeeded()
                do {
                    try await work(connection)
                } catch {
                    try? await connection.close()
                    throw error
                }
                try? await connection.close()
            } catch {
                setUp(role, false)
                if await retry.failed(error) { return }
            }
        }
    }

    /// The writer: one loop around one iterator of the wake-ups (an `AsyncStream` has one consumer), so a
    /// reconnect does not start a second one. What was published while PostgreSQL was away is written first.
    private func writeLoop() async {
        var wakeups = writerWakeups.makeAsyncIterator()
        var retry = Retry(role: "writer", backplane: self)
        while !Task.isCancelled {
            let connection: PostgresConnection
            do {
                connection = try await connect(role: "writer")
            } catch {
                if await retry.failed(error) { return }
                continue
            }
            retry.succeeded()
            setUp("writer", true)
            do {
                try await drain(on: connection)
                while await wakeups.next() != nil { try await drain(on: connection) }
                try? await connection.close()
                return
            } catch {
                try? await connection.close()
                setUp("writer", false)
                if await retry.failed(error) { return }
            }
        }
    }

    /// Backoff between attempts (0.1 s doubling to 5 s) and the log lines of an outage: the first failure, every
    /// 20th, and the reconnect.
    private struct Retry {
        let role: String
        let backplane: PostgresBackplane
        var backoff = Duration.milliseconds(100)
        var failures = 0

        init(role: String, backplane: PostgresBackplane) {
            self.role = role
            self.backplane = backplane
        }

        mutating func succeeded() {
            if failures > 0 {
                backplane.logger.notice("backplane \(role) reconnected", metadata: ["url": "\(backplane.configuration.displayURL)"])
            }
            failures = 0
            backoff = .milliseconds(100)
        }

        /// Logs, waits; true when the task was cancelled (stop trying).
        mutating func failed(_ error: any Error) async -> Bool {
            if Task.isCancelled || error is CancellationError { return true }
            failures += 1
            if failures == 1 || failures % 20 == 0 {
                backplane.logger.warning("backplane \(role) not connected; serving local clients, retrying", metadata: [
                    "url": "\(backplane.configuration.displayURL)", "error": "\(String(reflecting: error))",
                    "attempts": "\(failures)",
                ])
            }
            try? await Task.sleep(for: backoff)
            backoff = min(backoff * 2, .seconds(5))
            return Task.isCancelled
        }
    }

    private func connect(role: String) async throws -> PostgresConnection {
        let c = configuration
        var pg = PostgresConnection.Configuration(host: c.host, port: c.port, username: c.user, password: c.password,
                                                  database: c.database, tls: .disable)
        pg.options.connectTimeout = .seconds(5)
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .warning)
        let connection = try await PostgresConnection.connect(configuration: pg, id: role.hashValue, logger: quiet)
        try await connection.query(PostgresQuery(unsafeSQL: BackplaneSchema.setup), logger: quiet)
        // The page query's cost estimate (a never-analysed singleton table joined to a fast-growing one) crosses
        // jit_above_cost, and JIT-compiling it took 240 ms of every page (of 1000 rows then): measured, so JIT is off here.
        try await connection.query("SET jit = off", logger: quiet)
        if role == "writer" {
            // A write is answered once PostgreSQL has it, not once its WAL is on disk: commits are then not bound by
            // the disk's flush rate (the writes are serialised by one lock, so that rate would cap the cluster).
            // A crash of PostgreSQL itself can lose the last fraction of a second for the other nodes; restarts,
            // node outages and network cuts lose nothing (docs/clustering.md).
            try await connection.query("SET synchronous_commit = off", logger: quiet)
        }
        return connection
    }

    private func setUp(_ role: String, _ up: Bool) {
        let both = state.withLockedValue { s -> Bool in
            if role == "reader" { s.readerUp = up }
            if role == "writer" { s.writerUp = up }
            return s.readerUp && s.writerUp
        }
        if role != "pruner" { metrics.setConnected(both) }
    }

    // MARK: Reader

    private func read(on connection: PostgresConnection) async throws {
        try await connection.listen(on: BackplaneSchema.channel) { notifications in
            var last = BackplaneInbox.Position(id: 0, messages: 0), pruned = last
            for try await (lastID, lastMessages, prunedID, prunedMessages) in try await connection.query(
                PostgresQuery(unsafeSQL: BackplaneSchema.position), logger: logger).decode((Int64, Int64, Int64, Int64).self) {
                last = BackplaneInbox.Position(id: lastID, messages: lastMessages)
                pruned = BackplaneInbox.Position(id: prunedID, messages: prunedMessages)
            }
            switch state.withLockedValue({ $0.inbox.connected(last: last, pruned: pruned) }) {
            case .fromEnd(let id):
                logger.info("backplane reading from the end of the table", metadata: ["id": "\(id)", "node": "\(configuration.nodeID)"])
            case .resume:
                break
            case .resumeAfterGap(_, let gap):
                report(gap)
            }
            setUp("reader", true)
            try await fetchAll(on: connection)
            metrics.setCaughtUp()
            // Notifications are coalesced: every write notifies, but one fetch reads everything written so far,
            // so the notifications that arrived during a fetch call for one more fetch, not one each.
            let (due, signal) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask {
                    defer { signal.finish() }
                    for try await _ in notifications { signal.yield() }
                }
                for await _ in due { try await self.fetchAll(on: connection) }
                try await group.next()
            }
        }
        throw PostgresBackplaneError.listenEnded
    }

    private func report(_ gap: BackplaneInbox.Gap) {
        metrics.gap(messages: gap.messages)
        logger.error("backplane gap: messages other nodes published while this node was behind are gone (older than the retention)", metadata: [
            "missed": "\(gap.messages)", "after_batch": "\(gap.after)", "through_batch": "\(gap.through)",
            "retention_seconds": "\(configuration.retentionSeconds)",
        ])
    }

    /// Reads and delivers every batch after the cursor, in pages. Each page comes with how far pruning went, read
    /// in the same statement (one snapshot), so batches deleted before this node read them are a reported gap
    /// even when it never lost its connection (it fell behind by more than the retention).
    private func fetchAll(on connection: PostgresConnection) async throws {
        while let cursor = state.withLockedValue({ $0.inbox.cursor?.id }) {
            let rows = try await connection.query("""
                SELECT h.through, h.messages_through, b.id, b.origin, b.incarnation, b.first_seq, b.messages,
                       b.messages_through, b.body, extract(epoch FROM b.stored_at)::float8
                FROM wsgate_backplane_horizon h LEFT JOIN LATERAL (
                    SELECT * FROM wsgate_backplane_batches WHERE id > \(cursor) ORDER BY id LIMIT \(BackplaneSchema.fetchLimit)
                ) b ON true
                ORDER BY b.id
                """, logger: logger)
            // Collected first, then decoded: iterating the row sequence asynchronously costs a hop per row.
            let page = try BackplanePage(try await rows.collect())
            if let gap = state.withLockedValue({ $0.inbox.pruned(through: page.pruned) }) { report(gap) }
            deliver(page.batches)
            if page.batches.count < BackplaneSchema.fetchLimit { return }
        }
    }

    private func deliver(_ page: [BackplaneBatch]) {
        guard let newest = page.last else { return }
        let (deliveries, services) = state.withLockedValue { s in (s.inbox.received(page), s.services) }
        var count = 0
        var perService: [String: [(message: WebSocketMessage, topic: BroadcastTopicName)]] = [:]
        for delivery in deliveries {
            let messages: [BackplaneMessage]
            do {
                messages = try BackplaneBatchCodec.decode(delivery.batch.body, count: delivery.batch.count)
            } catch {
                metrics.malformed()
                logger.error("backplane batch skipped: its body is not what its row says", metadata: [
                    "batch": "\(delivery.batch.id)", "origin": "\(delivery.batch.origin)", "error": "\(error)",
                ])
                continue
            }
            for m in messages.dropFirst(delivery.from) {
                perService[m.service, default: []].append((m.message, BroadcastTopicName(trusted: m.topic)))
                count += 1
            }
        }
        for (path, batch) in perService { services[path]?.deliverFromCluster(batch) }
        metrics.received(count, lagSeconds: max(0, wallClock() - newest.storedAt))
    }

    // MARK: Writer

    /// One batch in flight at a time: what was published while it was on its way forms the next one, so batches
    /// grow with the load by themselves (measured: ~50 messages a batch at 20,000 msg/s over three nodes) and a
    /// quiet node's message goes at once. A fixed wait for company was tried (2 ms each for writer and reader):
    /// it added 4 ms at p50 unloaded, and at 20,000 msg/s the p99 was higher with it, not lower.
    private func drain(on connection: PostgresConnection) async throws {
        // An idle connection PostgreSQL closed (a restart) is noticed here, before a batch is handed to it.
        if connection.isClosed { throw PostgresBackplaneError.connectionClosed }
        while let batch = state.withLockedValue({ $0.outbox.nextBatch() }) {
            let body = BackplaneBatchCodec.encode(batch.lazy.map(\.message))
            let firstSeq = batch[0].seq, count = Int64(batch.count)
            let nodeID = configuration.nodeID, incarnation = self.incarnation, logger = self.logger
            do {
                try await answer(within: .seconds(15), closing: connection, "a backplane write") {
                    try await connection.query("""
                        SELECT wsgate_backplane_publish_batch(\(nodeID), \(incarnation), \(firstSeq), \(count), \(body))
                        """, logger: logger)
                }
            } catch {
                state.withLockedValue { $0.outbox.batchFailed() }
                throw error
            }
            let queued = state.withLockedValue { s -> Int in
                s.outbox.batchStored()
                return s.outbox.queuedCount
            }
            metrics.published(batch.count, stillQueued: queued)
        }
    }

    /// `body`'s outcome, or `timedOut` when PostgreSQL has not answered within `timeout`: then the connection is
    /// closed, so the caller reconnects (and the outbox writes the batch again; readers skip a repeat) rather than
    /// wait forever on a connection that died without telling.
    private func answer(within timeout: Duration, closing connection: PostgresConnection, _ what: String,
                        _ body: @escaping @Sendable () async throws -> Void) async throws {
        let settled = NIOLockedValueBox(false)
        let claim: @Sendable () -> Bool = { settled.withLockedValue { done -> Bool in defer { done = true }; return !done } }
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let timer = Task {
                try await Task.sleep(for: timeout)
                guard claim() else { return }
                continuation.resume(throwing: PostgresBackplaneError.timedOut(what))
                try? await connection.close()
            }
            Task {
                do {
                    try await body()
                    if claim() { continuation.resume() }
                } catch {
                    if claim() { continuation.resume(throwing: error) }
                }
                timer.cancel()
            }
        }
    }

    // MARK: Pruner

    /// Every second (every quarter of a shorter retention), batches older than the retention are deleted and
    /// how far that went recorded, so a node coming back knows whether it missed any. One node prunes at a time
    /// (a try-lock: the others skip that round): three pruners deleting the same rows wait on each other's row
    /// locks, and a second's worth of rows at a time keeps each delete short (a 15-second batch took 60–90 ms of
    /// a core in each of three backends at once, the benchmark's worst latency spikes). The cutoff is `now()`
    /// (the statement's start), not `clock_timestamp()`: a volatile bound cannot use the `stored_at` index, and
    /// the sequential scan it caused took 50–90 ms a second even with nothing to delete.
    private func prune(on connection: PostgresConnection) async throws {
        let period = Duration.milliseconds(Int64(min(1, max(0.1, configuration.retentionSeconds / 4)) * 1000))
        while true {
            try await connection.query("""
                WITH mine AS (SELECT pg_try_advisory_xact_lock(\(BackplaneSchema.pruneLock)) AS locked),
                gone AS (
                    DELETE FROM wsgate_backplane_batches
                    WHERE (SELECT locked FROM mine)
                      AND stored_at < now() - make_interval(secs => \(configuration.retentionSeconds))
                    RETURNING id, messages_through
                )
                UPDATE wsgate_backplane_horizon
                SET through = greatest(through, (SELECT coalesce(max(id), 0) FROM gone)),
                    messages_through = greatest(messages_through, (SELECT coalesce(max(messages_through), 0) FROM gone))
                WHERE (SELECT locked FROM mine)
                """, logger: logger)
            try await Task.sleep(for: period)
        }
    }
}

/// Seconds since 1970, as PostgreSQL's `stored_at` counts them (for the lag).
func wallClock() -> Double {
    var now = timespec()
    clock_gettime(CLOCK_REALTIME, &now)
    return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
}

enum PostgresBackplaneError: Error, CustomStringConvertible {
    case listenEnded
    case connectionClosed
    case timedOut(String)
    var description: String {
        switch self {
        case .listenEnded: return "the LISTEN connection ended"
        case .connectionClosed: return "PostgreSQL closed the connection"
        case .timedOut(let what): return "\(what) got no answer in time"
        }
    }
}
