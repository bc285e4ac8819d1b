/// What this node has read from the backplane: the cursor (the last row id handled), which rows to deliver (other
/// nodes' — its own it delivered when they were published), and whether a reconnect found rows gone that it
/// never read (pruned past the retention window: a gap, reported). A struct that returns what to do.
struct BackplaneInbox {
    let nodeID: String
    /// The last row id handled; nil until the node first reached PostgreSQL.
    private(set) var cursor: Int64?
    /// The last publish number delivered per publishing process, so a row written twice is delivered once.
    private var lastSeq: [Source: Int64] = [:]

    private struct Source: Hashable {
        var origin: String
        var incarnation: Int64
    }

    init(nodeID: String) { self.nodeID = nodeID }

    /// Messages lost to retention: rows after the cursor that were pruned before this node read them.
    struct Gap: Sendable, Equatable {
        /// Rows at most (row ids are dense but for rolled-back writes, so this is an upper bound).
        var rows: Int64
        var after: Int64
        var through: Int64
    }

    enum Start: Sendable, Equatable {
        /// First contact: read what comes after the table's current end.
        case fromEnd(Int64)
        /// Back after an outage: read on from the cursor (nothing missed).
        case resume(Int64)
        /// Back after an outage longer than the retention: read on from the oldest row kept, reporting the gap.
        case resumeAfterGap(Int64, Gap)
    }

    /// (Re)connected: the table's last row id and the highest id ever pruned. Where to read from.
    mutating func connected(lastID: Int64, prunedThrough: Int64) -> Start {
        guard let cursor else {
            self.cursor = lastID
            return .fromEnd(lastID)
        }
        if let gap = pruned(through: prunedThrough) { return .resumeAfterGap(prunedThrough, gap) }
        return .resume(cursor)
    }

    /// The highest pruned id, read in the same snapshot as a page of rows: when it is past the cursor, the rows in
    /// between were deleted before this node read them (it fell behind by more than the retention) — the gap,
    /// and reading goes on after it.
    mutating func pruned(through: Int64) -> Gap? {
        guard let cursor, through > cursor else { return nil }
        self.cursor = through
        return Gap(rows: through - cursor, after: cursor, through: through)
    }

    /// Rows read after the cursor, in id order: the messages to deliver here (other nodes' only). Rows at or
    /// before the cursor (a fetch that overlapped another) and a publisher's repeats (a batch it wrote again
    /// after losing the reply) are skipped, so each message is delivered once.
    mutating func received(_ rows: [BackplaneRow]) -> [BackplaneRow] {
        var deliver: [BackplaneRow] = []
        for row in rows {
            if let cursor, row.id <= cursor { continue }
            cursor = row.id
            let source = Source(origin: row.origin, incarnation: row.incarnation)
            if let last = lastSeq[source], row.seq <= last { continue }
            lastSeq[source] = row.seq
            if row.origin != nodeID { deliver.append(row) }
        }
        return deliver
    }
}
