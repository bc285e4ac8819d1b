import Foundation
import NIOCore
import TestCaptures
import Testing
@testable import RTMPEngine

/// The RTMP engine: handshake, chunk streams at chunk sizes 128 and 65536, split headers, extended timestamps,
/// AMF0/AMF3, and the real bytes a Flash Player 11 sent to a Kaazing gateway (wsr.md §7).
@Suite struct RTMPEngineTests {
    static func read(_ bytes: [UInt8], split: Int, reader: inout RTMPChunkReader) -> ([RTMPMessage], RTMPChunkReader.Failure?) {
        var out: [RTMPMessage] = []
        var i = 0
        while i < bytes.count {
            var input = ByteBuffer(bytes: bytes[i..<min(bytes.count, i + split)])
            i += split
            while let result = reader.next(&input) {
                switch result {
                case .success(let m): out.append(m)
                case .failure(let f): return (out, f)
                }
            }
        }
        return (out, nil)
    }

    @Test func serverHandshakeAnswersAsTheGatewayDid() {
        var server = RTMPHandshake(role: .server)
        var c1: [UInt8] = [0x01, 0x02, 0x03, 0x04, 0, 0, 0, 0]
        c1 += (0..<1528).map { UInt8(truncatingIfNeeded: $0 * 7) }
        var input = ByteBuffer(bytes: [0x03] + c1.prefix(700))
        #expect(server.read(&input) == .needMoreData)
        input = ByteBuffer(bytes: Array(c1.dropFirst(700)))
        guard case .send(let s) = server.read(&input) else { Issue.record("no S0S1S2"); return }
        let bytes = Array(s.readableBytesView)
        #expect(bytes.count == 1 + 2 * 1536 && bytes[0] == 0x03)
        #expect(bytes[1...1536].allSatisfy { $0 == 0 }) // S1: zeros
        #expect(Array(bytes[1537..<1545]) == [0x01, 0x02, 0x03, 0x04, 0x01, 0x02, 0x03, 0x05]) // time, time + 1
        #expect(Array(bytes[1545...]) == Array(c1[8...]))
        // C2 and the first chunk in one read: the chunk is left for the chunk reader.
        input = ByteBuffer(bytes: [UInt8](repeating: 0, count: 1536) + [0x02, 0xAA])
        #expect(server.read(&input) == .done(send: ByteBuffer()))
        #expect(Array(input.readableBytesView) == [0x02, 0xAA])
    }

    @Test func clientHandshakeAgainstTheServer() {
        var client = RTMPHandshake(role: .client, random: [UInt8](repeating: 9, count: 1528))
        var server = RTMPHandshake(role: .server)
        var hello = client.clientHello
        guard case .send(var answer) = server.read(&hello) else { Issue.record("server"); return }
        guard case .done(var c2) = client.read(&answer) else { Issue.record("client"); return }
        #expect(c2.readableBytes == 1536)
        guard case .done = server.read(&c2) else { Issue.record("server C2"); return }
        var notRTMP = ByteBuffer(string: "GET / HTTP/1.1\r\n")
        var other = RTMPHandshake(role: .server)
        #expect(other.read(&notRTMP) == .failed("not RTMP: first byte 71"))
    }

    @Test(arguments: [128, 65536]) func chunkingRoundTripsWhateverTheSplit(chunkSize: Int) {
        let messages = [
            RTMPMessage(chunkStreamID: 3, typeID: 20, payload: ByteBuffer(bytes: [UInt8](repeating: 1, count: 300))),
            RTMPMessage(chunkStreamID: 8, typeID: 15, messageStreamID: 3, timestamp: 0xFFFFFF + 5, payload: ByteBuffer(bytes: (0..<1000).map { UInt8($0 & 0xFF) })),
            RTMPMessage(chunkStreamID: 64, typeID: 18, messageStreamID: 1, timestamp: 7, payload: ByteBuffer()),
            RTMPMessage(chunkStreamID: 319, typeID: 15, payload: ByteBuffer(bytes: [UInt8](repeating: 2, count: 129))),
            RTMPMessage(chunkStreamID: 320, typeID: 15, payload: ByteBuffer(bytes: [UInt8](repeating: 3, count: 70000))),
            RTMPMessage(chunkStreamID: 65599, typeID: 15, payload: ByteBuffer(bytes: [4])),
        ]
        var wire = ByteBuffer()
        let writer = RTMPChunkWriter(chunkSize: chunkSize)
        if chunkSize != 128 {
            writer.write(RTMPMessage(chunkStreamID: 2, typeID: 1, payload: ByteBuffer(bytes: [0, 1, 0, 0])), into: &wire) // at 128: fits
        }
        for m in messages { writer.write(m, into: &wire) }
        let bytes = Array(wire.readableBytesView)
        for split in [1, 5, 131, bytes.count] where split == 1 ? bytes.count < 100_000 || chunkSize == 65536 : true {
            var reader = RTMPChunkReader()
            let (got, failure) = Self.read(bytes, split: split, reader: &reader)
            #expect(failure == nil)
            #expect(Array(got.drop { $0.typeID == 1 }) == messages, "split \(split)")
        }
    }

    @Test func typeOneTwoThreeHeadersCarryFieldsOver() {
        // Type 0 on csid 5 (ts 100, len 2, type 15, msid 1), type 2 (delta 10, same length/type), type 3 (delta again).
        let bytes: [UInt8] = [0x05, 0, 0, 100, 0, 0, 2, 15, 1, 0, 0, 0, 0xAA, 0xBB,
                              0x85 - 0x40 + 0x40, 0, 0, 10, 0xCC, 0xDD, // 0x85 = format 2, csid 5
                              0xC5, 0xEE, 0xFF] // format 3
        var reader = RTMPChunkReader()
        let (got, failure) = Self.read(bytes, split: 1, reader: &reader)
        #expect(failure == nil)
        #expect(got.map(\.timestamp) == [100, 110, 120])
        #expect(got.map { Array($0.payload.readableBytesView) } == [[0xAA, 0xBB], [0xCC, 0xDD], [0xEE, 0xFF]])
        #expect(got.allSatisfy { $0.messageStreamID == 1 && $0.typeID == 15 })
    }

    @Test func limitsRefuseHostileStreams() {
        var reader = RTMPChunkReader(limits: .init(maxChunkSize: 1 << 16, maxMessageLength: 1000, maxChunkStreams: 4))
        // A huge chunk size.
        #expect(Self.read([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x7F, 0xFF, 0xFF, 0xFF], split: 3, reader: &reader).1 == .chunkSize(0x7FFF_FFFF))
        var long = RTMPChunkReader(limits: .init(maxMessageLength: 1000))
        #expect(Self.read([0x03, 0, 0, 0, 0, 0x10, 0, 15, 0, 0, 0, 0], split: 1, reader: &long).1 == .messageTooLong(4096))
        var orphan = RTMPChunkReader()
        #expect(Self.read([0xC7, 1, 2], split: 1, reader: &orphan).1 == .continuationWithoutHeader(7))
        // A new message header on a stream whose message is half read (found by FuzzRTMP: it crashed the reader).
        var interrupted = RTMPChunkReader()
        #expect(Self.read([0x03, 0, 0, 0, 0, 0x01, 0x00, 15, 0, 0, 0, 0] + [UInt8](repeating: 1, count: 128) + [0x43, 0, 0, 0, 0, 0, 1, 15, 9],
                          split: 1, reader: &interrupted).1 == .interruptedMessage(3))
        var many = RTMPChunkReader(limits: .init(maxChunkStreams: 2))
        let starts: [UInt8] = (3...5).flatMap { csid -> [UInt8] in [UInt8(csid), 0, 0, 0, 0, 0, 1, 15, 0, 0, 0, 0, 1] }
        #expect(Self.read(starts, split: 100, reader: &many).1 == .tooManyChunkStreams)
        // A Set Chunk Size with the top bit set is refused, not masked into 128.
        var topBit = RTMPChunkReader()
        #expect(Self.read([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0x80, 0, 0, 0x80], split: 5, reader: &topBit).1 == .chunkSize(0x8000_0080))
        // Unfinished messages on several chunk streams, each under the message limit, together over the buffer limit.
        var hoard = RTMPChunkReader(limits: .init(maxMessageLength: 1000, maxChunkStreams: 8, maxBufferedBytes: 300))
        let halves: [UInt8] = (3...6).flatMap { csid -> [UInt8] in
            [UInt8(csid), 0, 0, 0, 0, 0x03, 0xE8, 15, 0, 0, 0, 0] + [UInt8](repeating: 7, count: 128)
        }
        #expect(Self.read(halves, split: 64, reader: &hoard).1 == .tooMuchBuffered(384))
        // Completed messages give their bytes back: the same four streams finishing one by one stay within 300.
        var tidy = RTMPChunkReader(limits: .init(maxMessageLength: 1000, maxChunkStreams: 8, maxBufferedBytes: 300))
        let whole: [UInt8] = (3...6).flatMap { csid -> [UInt8] in
            [UInt8(csid), 0, 0, 0, 0, 0, 200, 15, 0, 0, 0, 0] + [UInt8](repeating: 7, count: 128) + [0xC0 | UInt8(csid)] + [UInt8](repeating: 8, count: 72)
        }
        let (messages, failure) = Self.read(whole, split: 50, reader: &tidy)
        #expect(failure == nil && messages.count == 4)
    }

    /// Pings answered, acknowledgements once per window, Window Acknowledgement Size after Set Peer Bandwidth —
    /// in an open WSR connection, on chunk stream 2 (nginx-rtmp drops clients that leave its pings unanswered).
    @Test func flowControlAnswersPingsAndAcknowledgesWindows() {
        func control(_ type: UInt8, _ bytes: [UInt8]) -> [UInt8] {
            var out = ByteBuffer()
            RTMPChunkWriter().write(RTMPMessage(chunkStreamID: 2, typeID: type, payload: ByteBuffer(bytes: bytes)), into: &out)
            return Array(out.readableBytesView)
        }
        func answers(_ replies: ByteBuffer) -> [RTMPMessage] {
            var reader = RTMPChunkReader()
            let (messages, failure) = Self.read(Array(replies.readableBytesView), split: 1000, reader: &reader)
            #expect(failure == nil && messages.allSatisfy { $0.chunkStreamID == 2 && $0.messageStreamID == 0 })
            return messages
        }
        var connection = WSRConnection(role: .client, reader: RTMPChunkReader(), writer: RTMPChunkWriter(chunkSize: 128),
                                       outboundStreamID: 1)
        // 18 + 17 + 17 + 16 = 68 bytes: a ping, the same peer bandwidth twice, a window of 100.
        var input = ByteBuffer(bytes: control(RTMPMessage.userControl, [0, 6, 0, 0, 0x12, 0x34])
                                      + control(RTMPMessage.setPeerBandwidth, [0, 0, 0x10, 0, 2])
                                      + control(RTMPMessage.setPeerBandwidth, [0, 0, 0x10, 0, 2])
                                      + control(RTMPMessage.windowAckSize, [0, 0, 0, 100]))
        var replies = ByteBuffer()
        #expect(connection.next(&input, replies: &replies) == nil)
        let first = answers(replies)
        #expect(first.map(\.typeID) == [RTMPMessage.userControl, RTMPMessage.windowAckSize]) // no ack: 68 < 100
        #expect(first.map { Array($0.payload.readableBytesView) } == [[0, 7, 0, 0, 0x12, 0x34], [0, 0, 0x10, 0]])
        // 48 more bytes: 116 received, one window's worth — acknowledged with the count so far.
        input = ByteBuffer(bytes: Array([[UInt8]](repeating: control(RTMPMessage.acknowledgement, [0, 0, 0, 1]), count: 3).joined()))
        replies.clear()
        #expect(connection.next(&input, replies: &replies) == nil)
        let second = answers(replies)
        #expect(second.map(\.typeID) == [RTMPMessage.acknowledgement] && second.first?.payload.getInteger(at: 0, as: UInt32.self) == 116)
        // The next acknowledgement waits for another 100 bytes.
        input = ByteBuffer(bytes: control(RTMPMessage.acknowledgement, [0, 0, 0, 2]))
        replies.clear()
        _ = connection.next(&input, replies: &replies)
        #expect(replies.readableBytes == 0)
    }

    /// Before the session opens, commands only: a connection without a session cannot make the gateway hold more
    /// than the setup limits (64 KiB per message, 128 KiB in all).
    @Test func setupPhaseBuffersOnlySmallCommands() {
        var session = WSRServerSession()
        var input = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 3072))
        input.writeBytes([0x02, 0, 0, 0, 0, 0, 4, 1, 0, 0, 0, 0, 0, 1, 0, 0]) // Set Chunk Size 65536
        input.writeBytes([0x03, 0, 0, 0, 0x01, 0x00, 0x01, 20, 0, 0, 0, 0]) // a 65,537-byte command
        #expect(session.read(&input) { _ in true }.last == .fail("message of 65537 bytes refused"))
        #expect(RTMPCommandReply.printable("rtmp://h/x\n2026 notice forged") == "rtmp://h/x\\u{a}2026 notice forged")
        #expect(RTMPCommandReply.printable(String(repeating: "u", count: 500)).count == 201)
    }

    @Test func amfRoundTripsAndBombs() throws {
        let values: [AMFValue] = [
            .string("connect"), .number(1), .object([("app", .string("proxy")), ("objectEncoding", .number(3)), ("fpad", .boolean(false)),
                                                      ("pageUrl", .undefined), ("nested", .ecmaArray([("x", .null)]))]),
            .strictArray([.number(1), .string("two")]), .date(1.5e12), .amf3Integer(-5), .amf3String("é"),
            .amf3ByteArray(Array("Hello, WebSocket!".utf8)), .string(String(repeating: "L", count: 70_000)),
        ]
        var out = ByteBuffer()
        AMFEncoder.encode(values, into: &out)
        var decoder = AMFDecoder(out)
        #expect(try decoder.decodeAll() == values)
        // A strict array announcing 4 billion items, deep nesting, a truncated string.
        var bomb = AMFDecoder(ByteBuffer(bytes: [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05]))
        #expect(throws: AMFError.truncated) { try bomb.decode() }
        var deep = AMFDecoder(ByteBuffer(bytes: [UInt8](repeating: 0x0A, count: 1).flatMap { _ in [UInt8]() }
                                           + (0..<40).flatMap { _ in [0x0A, 0, 0, 0, 1] as [UInt8] } + [0x05]))
        #expect(throws: AMFError.tooDeep) { try deep.decode() }
        var short = AMFDecoder(ByteBuffer(bytes: [0x02, 0x00, 0x10, 0x41]))
        #expect(throws: AMFError.truncated) { try short.decode() }
        for v: UInt32 in [0, 0x7F, 0x80, 0x3FFF, 0x4000, 0x1F_FFFF, 0x20_0000, 0x1FFF_FFFF] {
            var b = ByteBuffer()
            AMFEncoder.writeU29(v, into: &b)
            var d = AMFDecoder(ByteBuffer(bytes: [0x11, 0x04] + Array(b.readableBytesView)))
            let decoded = try d.decode()
            #expect(decoded == .amf3Integer(v & 0x1000_0000 != 0 ? Int32(bitPattern: v | 0xE000_0000) : Int32(v)))
        }
    }

    @Test func wsrDataMessageLayout() {
        // wsr.md §5: 00 02 00 01 64 11 0c 23 + "Hello, WebSocket!".
        let body = WSRDataMessage.body(Array("Hello, WebSocket!".utf8))
        #expect(Array(body.readableBytesView.prefix(8)) == [0x00, 0x02, 0x00, 0x01, 0x64, 0x11, 0x0C, 0x23])
        #expect(WSRDataMessage.payload(of: body)?.bytes == Array("Hello, WebSocket!".utf8))
        #expect(WSRDataMessage.payload(of: WSRDataMessage.body(Array("txt".utf8), text: true))?.text == true)
        #expect(WSRDataMessage.payload(of: ByteBuffer(bytes: [0x00, 0x02, 0x00, 0x01, 0x65, 0x11, 0x0C, 0x01])) == nil)
    }

    @Test func flashPlayer11CaptureYieldsTheSeventeenPayloads() throws {
        let bytes = try FlashCapture.afterHandshake()
        #expect(bytes.count == 992)
        let hello = Array("Hello, WebSocket!".utf8)
        let expected: [[UInt8]] = Array(repeating: hello, count: 5) + [Array("hello, wsr\n".utf8)] + Array(repeating: hello, count: 5)
            + [Array("returning\n".utf8), Array("\u{1b}[Dagain\n".utf8), Array("fame\n".utf8), hello, Array("newline\n".utf8), hello]
        for split in [1, 7, 128, bytes.count] {
            var reader = RTMPChunkReader()
            let (messages, failure) = Self.read(bytes, split: split, reader: &reader)
            #expect(failure == nil)
            let commands = messages.filter { $0.typeID == 20 || $0.typeID == 17 }
            #expect(commands.count == 5, "connect, createStream ×2, publish, play")
            var connect = AMFDecoder(commands[0].payload)
            let args = try connect.decodeAll()
            #expect(args.first == .string("connect"))
            #expect(args[2]["tcUrl"]?.stringValue == "rtmp://localhost:8001/proxy?.kz=NnK36moHxczEotbVCEjNK9ciuOoOmDQA")
            #expect(args[2]["pageUrl"] == .undefined)
            let data = messages.filter { $0.typeID == 15 }
            #expect(data.map { WSRDataMessage.payload(of: $0.payload)?.bytes ?? [] } == expected, "split \(split)")
            #expect(data.allSatisfy { $0.messageStreamID == 3 && $0.chunkStreamID == 8 })
            // The last header is a type 1/2 one whose extended timestamp field (a delta) is 0x0da208fa.
            #expect(data[data.count - 1].timestamp &- data[data.count - 2].timestamp == 0x0DA2_08FA)
        }
    }
}
