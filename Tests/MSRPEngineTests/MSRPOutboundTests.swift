import NIOCore
import Testing
@testable import MSRPEngine

/// What goes out on one relay connection: streamed chunks pass through as their bytes arrive, a whole chunk that
/// comes meanwhile interrupts the one on the wire (ended with `+`, continued with a new transaction id and the
/// continued `Byte-Range`, RFC 4975 §7.1.1), and on a WebSocket leg streamed bodies are cut into message-sized
/// pieces. The wire is read back with the engine's parser, and every piece is checked against the bytes sent.
@Suite struct MSRPOutboundTests {
    var rng = SystemRandomNumberGenerator()

    static func send(_ messageID: String, range: String) -> MSRPHead {
        MSRPHead(transactionID: "fwd0fwd0", startLine: .request(method: "SEND"), fields: [
            .init("To-Path", "msrp://bob.example:2855/b;tcp"), .init("From-Path", "msrp://relay.example:2855/r;tcp msrp://alice.example:2855/a;tcp"),
            .init("Message-ID", messageID), .init("Byte-Range", range), .init("Content-Type", "text/plain"),
        ])
    }

    /// The written bytes (and which pieces were announced before their bytes) of a sequence of actions.
    struct Wire {
        var bytes = ByteBuffer()
        var announced: [MSRPHead] = []

        mutating func take(_ actions: [MSRPOutbound.Action]) {
            for action in actions {
                switch action {
                case .write(var b): bytes.writeBuffer(&b)
                case .pieceStarted(let head, _): announced.append(head)
                }
            }
        }

        /// The stream as chunks, read by the engine's parser.
        func chunks(_ sourceLocation: SourceLocation = #_sourceLocation) throws -> [MSRPChunk] {
            var reader = MSRPChunkReader(limits: .init(maxBodyBytes: 1 << 24))
            var input = bytes
            var out: [MSRPChunk] = []
            while let result = reader.next(&input) { out.append(try result.get()) }
            #expect(reader.isIdle, "bytes left over", sourceLocation: sourceLocation)
            return out
        }
    }

    static func text(_ chunk: MSRPChunk) -> String { chunk.body.map { String(buffer: $0) } ?? "" }

    @Test mutating func aStreamAloneGoesOutAsOneChunk() throws {
        var out = MSRPOutbound(framing: .stream(maxPieceBytes: nil))
        var wire = Wire()
        let id = try out.begin(Self.send("m1", range: "1-10/10"))
        wire.take(try out.body(id, ByteBuffer(string: "hello"), generator: &rng))
        wire.take(try out.body(id, ByteBuffer(string: "world"), generator: &rng))
        wire.take(out.end(id, .complete, generator: &rng))
        let chunks = try wire.chunks()
        try #require(chunks.count == 1)
        #expect(Self.text(chunks[0]) == "helloworld" && chunks[0].continuation == .complete)
        #expect(chunks[0].head["Byte-Range"] == "1-10/10" && chunks[0].head["Message-ID"] == "m1")
        #expect(wire.announced.map(\.transactionID) == [chunks[0].head.transactionID])
        #expect(out.openStreamCount == 0)
    }

    @Test mutating func aWholeChunkInterruptsTheStreamOnTheWire() throws {
        var out = MSRPOutbound(framing: .stream(maxPieceBytes: nil))
        var wire = Wire()
        let id = try out.begin(Self.send("big", range: "1-8/8"))
        wire.take(try out.body(id, ByteBuffer(string: "aaaa"), generator: &rng))
        var chat = ByteBuffer()
        Self.send("chat", range: "1-2/2").write(body: ByteBuffer(string: "hi"), continuation: .complete, into: &chat)
        wire.take(out.send(whole: chat))
        wire.take(try out.body(id, ByteBuffer(string: "bbbb"), generator: &rng))
        wire.take(out.end(id, .complete, generator: &rng))
        let chunks = try wire.chunks()
        try #require(chunks.count == 3, "\(chunks)")
        #expect(Self.text(chunks[0]) == "aaaa" && chunks[0].continuation == .more && chunks[0].head["Byte-Range"] == "1-8/8")
        #expect(Self.text(chunks[1]) == "hi" && chunks[1].head["Message-ID"] == "chat")
        #expect(Self.text(chunks[2]) == "bbbb" && chunks[2].continuation == .complete && chunks[2].head["Byte-Range"] == "5-8/8")
        #expect(chunks[2].head["Message-ID"] == "big" && chunks[2].head.transactionID != chunks[0].head.transactionID)
        #expect(wire.announced.map(\.transactionID) == [chunks[0].head.transactionID, chunks[2].head.transactionID])
    }

    @Test mutating func twoStreamsInterleaveWithoutMixingTheirBytes() throws {
        var out = MSRPOutbound(framing: .stream(maxPieceBytes: nil))
        var wire = Wire()
        let a = try out.begin(Self.send("A", range: "1-*/*"))
        let b = try out.begin(Self.send("B", range: "1-6/6"))
        for (id, text) in [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2"), (b, "b3")] {
            wire.take(try out.body(id, ByteBuffer(string: text), generator: &rng))
        }
        wire.take(out.end(b, .complete, generator: &rng))
        wire.take(out.end(a, .complete, generator: &rng))
        let chunks = try wire.chunks()
        let of = { (id: String) in chunks.filter { $0.head["Message-ID"] == id } }
        #expect(of("A").map(Self.text) == ["a1", "a2", ""] && of("A").map(\.continuation) == [.more, .more, .complete])
        #expect(of("A").map { $0.head["Byte-Range"] } == ["1-*/*", "3-*/*", "5-4/*"])
        #expect(of("B").map(Self.text) == ["b1", "b2b3"] && of("B").map(\.continuation) == [.more, .complete])
        #expect(of("B").map { $0.head["Byte-Range"] } == ["1-6/6", "3-6/6"])
        // The bodiless end carries no Content-Type (it has no body).
        #expect(of("A").last?.head["Content-Type"] == nil && of("A").last?.body == nil)
        #expect(Set(chunks.map(\.head.transactionID)).count == chunks.count)
    }

    @Test mutating func boundedPiecesCutAStreamWhereTheyFillAndKeepItsEndForTheLast() throws {
        var out = MSRPOutbound(framing: .stream(maxPieceBytes: 4))
        var wire = Wire()
        let id = try out.begin(Self.send("m", range: "1-10/10"))
        for text in ["abc", "defgh", "ij"] { wire.take(try out.body(id, ByteBuffer(string: text), generator: &rng)) }
        wire.take(out.end(id, .complete, generator: &rng))
        let chunks = try wire.chunks()
        #expect(chunks.map(Self.text) == ["abcd", "efgh", "ij"])
        #expect(chunks.map(\.continuation) == [.more, .more, .complete])
        #expect(chunks.map { $0.head["Byte-Range"] } == ["1-10/10", "5-10/10", "9-10/10"])
        #expect(wire.announced.count == 3)
        // Exactly full at the end: no empty piece after it.
        var exact = MSRPOutbound(framing: .stream(maxPieceBytes: 4))
        var wire2 = Wire()
        let e = try exact.begin(Self.send("e", range: "1-8/8"))
        wire2.take(try exact.body(e, ByteBuffer(string: "abcdefgh"), generator: &rng))
        wire2.take(exact.end(e, .complete, generator: &rng))
        #expect(try wire2.chunks().map(Self.text) == ["abcd", "efgh"])
    }

    @Test mutating func moreBodyThanTheByteRangeSaysIsRefused() throws {
        var out = MSRPOutbound(framing: .stream(maxPieceBytes: nil))
        let id = try out.begin(Self.send("m", range: "1-4/4"))
        _ = try out.body(id, ByteBuffer(string: "abcd"), generator: &rng)
        #expect(throws: MSRPOutbound.Failure.longerThanItsByteRange) { try out.body(id, ByteBuffer(string: "e"), generator: &rng) }
        #expect(throws: MSRPOutbound.Failure.unreadableByteRange) { try out.begin(Self.send("m", range: "nonsense")) }
    }

    @Test mutating func anAbortedStreamEndsWithHash() throws {
        var out = MSRPOutbound(framing: .stream(maxPieceBytes: nil))
        var wire = Wire()
        let id = try out.begin(Self.send("m", range: "1-100/100"))
        wire.take(try out.body(id, ByteBuffer(string: "part"), generator: &rng))
        wire.take(out.end(id, .aborted, generator: &rng))
        let chunks = try wire.chunks()
        #expect(chunks.count == 1 && chunks[0].continuation == .aborted && Self.text(chunks[0]) == "part")
    }

    @Test mutating func aWebSocketLegGetsMessageSizedPiecesThatInterleave() throws {
        let maxBytes = 1024
        var out = MSRPOutbound(framing: .messages(maxBytes: maxBytes))
        var messages: [ByteBuffer] = []
        var announced = 0
        func take(_ actions: [MSRPOutbound.Action]) {
            for action in actions {
                switch action {
                case .write(let b): messages.append(b)
                case .pieceStarted: announced += 1
                }
            }
        }
        let body = (0..<10_000).map { UInt8(ascii: "a") + UInt8($0 % 26) }
        let id = try out.begin(Self.send("big", range: "1-10000/10000"))
        var offset = 0
        while offset < body.count {
            let n = min(700, body.count - offset)
            take(try out.body(id, ByteBuffer(bytes: body[offset..<(offset + n)]), generator: &rng))
            if offset == 2100 {
                var chat = ByteBuffer()
                Self.send("chat", range: "1-2/2").write(body: ByteBuffer(string: "hi"), continuation: .complete, into: &chat)
                take(out.send(whole: chat))
            }
            offset += n
        }
        take(out.end(id, .complete, generator: &rng))
        #expect(announced == messages.count - 1) // every piece but the chat
        var received: [UInt8] = []
        var next = 1
        var sawChat = false
        for (i, message) in messages.enumerated() {
            #expect(message.readableBytes <= maxBytes)
            var reader = MSRPChunkReader(limits: .init(maxBodyBytes: 1 << 20))
            var input = message
            let parsed = reader.next(&input)
            let chunk = try #require(parsed).get()
            #expect(reader.isIdle && input.readableBytes == 0, "one chunk per message")
            if chunk.head["Message-ID"] == "chat" { sawChat = true; continue }
            let range = try #require(chunk.head["Byte-Range"].flatMap(ByteRange.init(parsing:)))
            #expect(range.start == next && range.total == 10_000)
            received += chunk.body.map { Array($0.readableBytesView) } ?? []
            next = received.count + 1
            #expect(range.end == received.count)
            #expect(chunk.continuation == (i == messages.count - 1 ? .complete : .more))
        }
        #expect(received == body && sawChat)
    }
}
