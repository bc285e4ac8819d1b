import NIOCore
import Testing
import WebSocketAPI
@testable import WSGateCluster

/// The backplane's decisions without PostgreSQL: the outbox (order, batches, the bound, a failed write put back
/// in front), the batch codec, and the inbox (the cursor, own batches not delivered twice, repeats skipped, gaps
/// after an outage counted in messages).
@Suite struct BackplaneStateTests {
    static func message(_ text: String, service: String = "/broadcast", topic: String = "t") -> BackplaneMessage {
        BackplaneMessage(service: service, topic: topic, message: .text(text))
    }

    /// A batch row as the reader gets it: `count` messages numbered from `seq`, through `messages` stored ever.
    static func batch(_ id: Int64, from origin: String, seq: Int64, count: Int64 = 1, incarnation: Int64 = 1,
                      through messages: Int64 = 0, _ texts: [String]? = nil) -> BackplaneBatch {
        let texts = texts ?? (0..<count).map { "m\(seq + $0)" }
        return BackplaneBatch(id: id, origin: origin, incarnation: incarnation, firstSeq: seq, count: count,
                              messagesThrough: messages, body: BackplaneBatchCodec.encode(texts.map { message($0) }),
                              storedAt: 0)
    }

    static func position(_ id: Int64, _ messages: Int64 = 0) -> BackplaneInbox.Position { .init(id: id, messages: messages) }

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

    @Test func theFirstContactReadsFromTheEndAndOwnBatchesAreNotDeliveredAgain() {
        var inbox = BackplaneInbox(nodeID: "a")
        let start = inbox.connected(last: Self.position(41), pruned: Self.position(10))
        #expect(start == .fromEnd(41))
        let delivered = inbox.received([Self.batch(40, from: "b", seq: 1), Self.batch(42, from: "b", seq: 2),
                                        Self.batch(43, from: "a", seq: 1), Self.batch(44, from: "c", seq: 1)])
        #expect(delivered.map(\.batch.id) == [42, 44], "batches before the start skipped; this node's own not delivered back")
        #expect(inbox.cursor?.id == 44)
        let again = inbox.received([Self.batch(44, from: "c", seq: 1)])
        #expect(again.isEmpty, "an overlapping fetch delivers nothing twice")
    }

    @Test func aRepeatedWriteIsDeliveredOnceEvenWhenItGrew() {
        var inbox = BackplaneInbox(nodeID: "a")
        _ = inbox.connected(last: Self.position(0), pruned: Self.position(0))
        let delivered = inbox.received([Self.batch(1, from: "b", seq: 1, count: 2),
                                        // node b lost the reply to its write and wrote the batch again, by then
                                        // with a third message on the end:
                                        Self.batch(2, from: "b", seq: 1, count: 3),
                                        Self.batch(3, from: "b", seq: 1, count: 2),
                                        Self.batch(4, from: "b", seq: 4, count: 1),
                                        // a restarted b counts from 1 again, under a new incarnation:
                                        Self.batch(5, from: "b", seq: 1, incarnation: 2)])
        #expect(delivered.map(\.batch.id) == [1, 2, 4, 5])
        #expect(delivered.map(\.from) == [0, 2, 0, 0], "of the grown batch only the third message is new")
    }

    @Test func theCodecCarriesEveryMessageWithItsServiceTopicAndKind() throws {
        let messages = [BackplaneMessage(service: "/broadcast", topic: "news", message: .text("héllo")),
                        BackplaneMessage(service: "/chat", topic: "", message: .binary(ByteBuffer(bytes: [0, 1, 2, 255]))),
                        BackplaneMessage(service: "/chat", topic: "room-7", message: .text(""))]
        let body = BackplaneBatchCodec.encode(messages)
        #expect(try BackplaneBatchCodec.decode(body, count: 3) == messages)
        #expect(throws: BackplaneBatchError.self) { try BackplaneBatchCodec.decode(body, count: 4) }
        #expect(throws: BackplaneBatchError.self) { try BackplaneBatchCodec.decode(body, count: 2) }
        var cut = body
        cut.moveWriterIndex(to: body.writerIndex - 1)
        #expect(throws: BackplaneBatchError.self) { try BackplaneBatchCodec.decode(cut, count: 3) }
        var wrongKind = body
        wrongKind.setInteger(UInt8(9), at: wrongKind.readerIndex)
        #expect(throws: BackplaneBatchError.self) { try BackplaneBatchCodec.decode(wrongKind, count: 3) }
    }

    @Test func aReconnectResumesFromTheCursorOrReportsTheGapInMessages() {
        var inbox = BackplaneInbox(nodeID: "a")
        _ = inbox.connected(last: Self.position(100, 5000), pruned: Self.position(0))
        _ = inbox.received([Self.batch(101, from: "b", seq: 1, count: 10, through: 5010)])
        let resumed = inbox.connected(last: Self.position(180, 9000), pruned: Self.position(90, 4000))
        #expect(resumed == .resume(101), "nothing after 101 was pruned")
        let gap = BackplaneInbox.Gap(messages: 2490, after: 101, through: 150)
        let afterGap = inbox.connected(last: Self.position(300, 12000), pruned: Self.position(150, 7500))
        #expect(afterGap == .resumeAfterGap(150, gap))
        #expect(inbox.cursor == Self.position(150, 7500))
        let next = inbox.received([Self.batch(151, from: "b", seq: 600, through: 7501)])
        #expect(next.map(\.batch.id) == [151])
    }

    @Test func fallingBehindPastTheRetentionWhileConnectedIsAGapToo() {
        var inbox = BackplaneInbox(nodeID: "a")
        _ = inbox.connected(last: Self.position(10, 100), pruned: Self.position(0))
        let none = inbox.pruned(through: Self.position(8, 80))
        #expect(none == nil, "pruned batches this node had read already: no gap")
        let gap = inbox.pruned(through: Self.position(25, 400))
        #expect(gap == .init(messages: 300, after: 10, through: 25))
        let after = inbox.received([Self.batch(20, from: "b", seq: 5), Self.batch(26, from: "b", seq: 6)])
        #expect(after.map(\.batch.id) == [26])
    }
}
