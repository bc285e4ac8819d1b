import DequeModule

/// What this node published and has not yet stored in PostgreSQL: first in, first out, written in batches, and
/// bounded — while PostgreSQL is unreachable it fills, and past `maxBufferedBytes` the oldest messages are dropped
/// and counted (never silently). A struct that returns what to do; `PostgresBackplane` does it.
struct BackplaneOutbox {
    struct Limits: Sendable, Hashable {
        /// Messages in one batch (one row) at most.
        var maxBatchMessages = 1000
        /// Bytes in one batch at most (a single larger message goes alone); with `BackplaneSchema.fetchLimit`
        /// it bounds what a reader holds per page.
        var maxBatchBytes = 1 << 20
        /// Bytes held while PostgreSQL does not take them; beyond, the oldest are dropped.
        var maxBufferedBytes = 64 << 20
    }

    /// A message with its number in this process's publish order.
    struct Envelope: Sendable, Equatable {
        var seq: Int64
        var message: BackplaneMessage
        var size: Int { message.size }
    }

    let limits: Limits
    private var queue = Deque<Envelope>()
    private var nextSeq: Int64 = 1
    private(set) var bufferedBytes = 0
    /// A batch handed to the writer and not yet confirmed.
    private(set) var inFlight: [Envelope]?

    init(limits: Limits) { self.limits = limits }

    var isEmpty: Bool { queue.isEmpty && inFlight == nil }
    var queuedCount: Int { queue.count }

    /// Queues a message; returns how many old ones had to be dropped to stay within the bound.
    mutating func enqueue(_ message: BackplaneMessage) -> Int {
        queue.append(Envelope(seq: nextSeq, message: message))
        nextSeq += 1
        bufferedBytes += message.size
        var dropped = 0
        while bufferedBytes > limits.maxBufferedBytes, queue.count > 1 {
            bufferedBytes -= queue.removeFirst().size
            dropped += 1
        }
        return dropped
    }

    /// The next batch to write, in publish order; nil while one is in flight or nothing waits.
    mutating func nextBatch() -> [Envelope]? {
        guard inFlight == nil, !queue.isEmpty else { return nil }
        var batch: [Envelope] = []
        var bytes = 0
        while let next = queue.first, batch.count < limits.maxBatchMessages,
              batch.isEmpty || bytes + next.size <= limits.maxBatchBytes {
            batch.append(queue.removeFirst())
            bytes += next.size
        }
        inFlight = batch
        return batch
    }

    /// The batch in flight is stored.
    mutating func batchStored() {
        guard let batch = inFlight else { return }
        bufferedBytes -= batch.reduce(0) { $0 + $1.size }
        inFlight = nil
    }

    /// The batch in flight was not stored (the connection broke): it goes back to the front, to be written
    /// first when PostgreSQL is back, so the order is kept.
    mutating func batchFailed() {
        guard let batch = inFlight else { return }
        queue.insert(contentsOf: batch, at: 0)
        inFlight = nil
    }
}
