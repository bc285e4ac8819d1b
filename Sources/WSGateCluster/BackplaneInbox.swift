/// What this node has read from the backplane: the cursor (the last batch handled, and the count of messages
/// stored through it), which batches to deliver (other nodes' — its own it delivered when they were published),
/// and whether a reconnect found batches gone that it never read (pruned past the retention window: a gap,
/// reported with the number of messages lost). A struct that returns what to do.
struct BackplaneInbox {
    let nodeID: String
    /// The last batch handled; nil until the node first reached PostgreSQL.
    private(set) var cursor: Position?
    /// The last publish number delivered per publishing process, so a batch written twice is delivered once.
    private var lastSeq: [Source: Int64] = [:]

    private struct Source: Hashable {
        var origin: String
        var incarnation: Int64
    }

    init(nodeID: String) { self.nodeID = nodeID }

    /// A place in the table: a batch id and the count of messages stored ever through it.
    struct Position: Sendable, Equatable {
        var id: Int64
        var messages: Int64
    }

    /// Messages lost to retention: batches after the cursor that were pruned before this node read them.
    struct Gap: Sendable, Equatable {
        var messages: Int64
        /// The batch ids between which they were.
        var after: Int64
        var through: Int64
    }

    enum Start: Sendable, Equatable {
        /// First contact: read what comes after the table's current end.
        case fromEnd(Int64)
        /// Back after an outage: read on from the cursor (nothing missed).
        case resume(Int64)
        /// Back after an outage longer than the retention: read on from the oldest batch kept, reporting the gap.
        case resumeAfterGap(Int64, Gap)
    }

    /// (Re)connected: where the table ends and how far it was pruned. Where to read from.
    mutating func connected(last: Position, pruned: Position) -> Start {
        guard let cursor else {
            self.cursor = last
            return .fromEnd(last.id)
        }
        if let gap = self.pruned(through: pruned) { return .resumeAfterGap(pruned.id, gap) }
        return .resume(cursor.id)
    }

    /// How far pruning went, read in the same snapshot as a page of batches: when it is past the cursor, the
    /// batches in between were deleted before this node read them (it fell behind by more than the retention) —
    /// the gap, and reading goes on after it.
    mutating func pruned(through: Position) -> Gap? {
        guard let cursor, through.id > cursor.id else { return nil }
        self.cursor = through
        return Gap(messages: max(0, through.messages - cursor.messages), after: cursor.id, through: through.id)
    }

    /// A batch to deliver from its message `from` on (earlier ones were delivered from an earlier write of it).
    struct Delivery: Sendable, Equatable {
        var batch: BackplaneBatch
        var from: Int
    }

    /// Batches read after the cursor, in id order: what to deliver here (other nodes' only). Batches at or before
    /// the cursor (a fetch that overlapped another) and a publisher's repeats (a batch it wrote again after losing
    /// the reply, perhaps with more messages on the end) are skipped, so each message is delivered once.
    mutating func received(_ batches: [BackplaneBatch]) -> [Delivery] {
        var deliver: [Delivery] = []
        for batch in batches {
            if let cursor, batch.id <= cursor.id { continue }
            cursor = Position(id: batch.id, messages: batch.messagesThrough)
            guard batch.count > 0 else { continue }
            let source = Source(origin: batch.origin, incarnation: batch.incarnation)
            let last = lastSeq[source]
            if let last, batch.lastSeq <= last { continue }
            lastSeq[source] = batch.lastSeq
            let from = last.map { Int(max(0, $0 - batch.firstSeq + 1)) } ?? 0
            if batch.origin != nodeID { deliver.append(Delivery(batch: batch, from: from)) }
        }
        return deliver
    }
}
