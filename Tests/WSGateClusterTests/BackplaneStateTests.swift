import NIOCore
import Testing
import WebSocketAPI
@testable import WSGateCluster

/// The backplane's decisions without PostgreSQL: the outbox (order, batches, the bound, a failed write put back
/// in front) and the inbox (the cursor, own rows not delivered twice, repeats skipped, gaps after an outage).
@Suite struct BackplaneStateTests {
    static func message(_ text: String, service: String = "/broadcast", topic: String = "t") -> BackplaneMessage {
        BackplaneMessage(service: service, topic: topic, message: .text(text))
    }

    static func row(_ id: Int64, from origin: String, seq: Int64, incarnation: Int64 = 1, _ text: String = "m") -> BackplaneRow {
        BackplaneRow(id: id, origin: origin, incarnation: incarnation, seq: seq, message: message(text), storedAt: 0)
    }

    @Test func theOutboxWritesInPublishOrderInBoundedBatches() {
        var limits = BackplaneOutbox.Limits()
        limits.maxBatchMessages = 3
        var outbox = BackplaneOutbox(limits: limits)
        for i in 0..<7 {
            let dropped = outbox.enqueue(Self.message("\(i)"))
            #expect(dropped == 0)
        }
        var written: [String] = []
        var seqs: [Int64] = []
        while let batch = outbox.nextBatch() {
            #expect(batch.count <= 3)
            let second = outbox.nextBatch()
            #expect(second == nil, "one batch in flight at a time")
            written += batch.map { String(buffer: $0.message.message.data) }
            seqs += batch.map(\.seq)
            outbox.batchStored()
        }
        #expect(written == (0..<7).map(String.init))
        #expect(seqs == Array(1...7), "publish numbers count up in order")
        #expect(outbox.isEmpty && outbox.bufferedBytes == 0)
    }

    @Test func aBatchIsAlsoBoundedInBytesButALargeMessageGoesAlone() {
        var limits = BackplaneOutbox.Limits()
        limits.maxBatchBytes = 120 // two messages of 40 bytes and their service path and topic (51 each), not three
        var outbox = BackplaneOutbox(limits: limits)
        _ = outbox.enqueue(Self.message(String(repeating: "a", count: 40)))
        _ = outbox.enqueue(Self.message(String(repeating: "b", count: 40)))
        _ = outbox.enqueue(Self.message(String(repeating: "c", count: 500)))
        let first = outbox.nextBatch()
        #expect(first?.count == 2)
        outbox.batchStored()
        let alone = outbox.nextBatch()
        #expect(alone?.count == 1, "larger than a batch: written on its own, not stuck")
    }

    @Test func aFailedWriteGoesBackToTheFrontAndKeepsItsNumbers() {
        var outbox = BackplaneOutbox(limits: .init())
        _ = outbox.enqueue(Self.message("first"))
        let batch = outbox.nextBatch()
        _ = outbox.enqueue(Self.message("second"))
        outbox.batchFailed()
        let retry = outbox.nextBatch()
        #expect(retry?.map(\.seq) == [1, 2])
        #expect(retry?.first == batch?.first, "the same message with the same number: the reader can spot a repeat")
    }

    @Test func pastTheBoundTheOldestAreDroppedAndCounted() {
        var limits = BackplaneOutbox.Limits()
        limits.maxBufferedBytes = 300
        var outbox = BackplaneOutbox(limits: limits)
        var dropped = 0
        for i in 0..<10 { dropped += outbox.enqueue(Self.message(String(repeating: "\(i)", count: 90))) }
        #expect(dropped > 0)
        #expect(outbox.bufferedBytes <= 300)
        #expect(outbox.queuedCount + dropped == 10)
        let kept = outbox.nextBatch()?.map { String(buffer: $0.message.message.data).first! } ?? []
        #expect(kept.last == "9", "the newest are kept")
    }

    @Test func theFirstContactReadsFromTheEndAndOwnRowsAreNotDeliveredAgain() {
        var inbox = BackplaneInbox(nodeID: "a")
        let start = inbox.connected(lastID: 41, prunedThrough: 10)
        #expect(start == .fromEnd(41))
        let delivered = inbox.received([Self.row(40, from: "b", seq: 1), Self.row(42, from: "b", seq: 2),
                                        Self.row(43, from: "a", seq: 1), Self.row(44, from: "c", seq: 1)])
        #expect(delivered.map(\.id) == [42, 44], "rows before the start skipped; this node's own row not delivered back")
        #expect(inbox.cursor == 44)
        let again = inbox.received([Self.row(44, from: "c", seq: 1)])
        #expect(again.isEmpty, "an overlapping fetch delivers nothing twice")
    }

    @Test func aRepeatedWriteIsDeliveredOnce() {
        var inbox = BackplaneInbox(nodeID: "a")
        _ = inbox.connected(lastID: 0, prunedThrough: 0)
        let delivered = inbox.received([Self.row(1, from: "b", seq: 1, "x"), Self.row(2, from: "b", seq: 2, "y"),
                                        // node b lost the reply to its write and wrote the batch again:
                                        Self.row(3, from: "b", seq: 1, "x"), Self.row(4, from: "b", seq: 2, "y"),
                                        Self.row(5, from: "b", seq: 3, "z"),
                                        // a restarted b counts from 1 again, under a new incarnation:
                                        Self.row(6, from: "b", seq: 1, incarnation: 2, "after restart")])
        #expect(delivered.map(\.id) == [1, 2, 5, 6])
    }

    @Test func aReconnectResumesFromTheCursorOrReportsTheGap() {
        var inbox = BackplaneInbox(nodeID: "a")
        _ = inbox.connected(lastID: 100, prunedThrough: 0)
        _ = inbox.received([Self.row(101, from: "b", seq: 1)])
        let resumed = inbox.connected(lastID: 180, prunedThrough: 90)
        #expect(resumed == .resume(101), "nothing after 101 was pruned")
        let gap = BackplaneInbox.Gap(rows: 49, after: 101, through: 150)
        let afterGap = inbox.connected(lastID: 300, prunedThrough: 150)
        #expect(afterGap == .resumeAfterGap(150, gap))
        #expect(inbox.cursor == 150)
        let next = inbox.received([Self.row(151, from: "b", seq: 60)])
        #expect(next.map(\.id) == [151])
    }

    @Test func fallingBehindPastTheRetentionWhileConnectedIsAGapToo() {
        var inbox = BackplaneInbox(nodeID: "a")
        _ = inbox.connected(lastID: 10, prunedThrough: 0)
        let none = inbox.pruned(through: 8)
        #expect(none == nil, "pruned rows this node had read already: no gap")
        let gap = inbox.pruned(through: 25)
        #expect(gap == .init(rows: 15, after: 10, through: 25))
        let after = inbox.received([Self.row(20, from: "b", seq: 5), Self.row(26, from: "b", seq: 6)])
        #expect(after.map(\.id) == [26])
    }
}
