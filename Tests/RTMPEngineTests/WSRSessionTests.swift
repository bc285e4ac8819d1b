import Foundation
import NIOCore
import TestCaptures
import Testing
@testable import RTMPEngine

/// The WSR server session on the real Flash Player 11 bytes (wsr.md §7): handshake of our making, the capture's
/// commands answered as the gateway answered them, then the 17 WebSocket messages from the open session.
@Suite struct WSRSessionTests {
    static let tcUrl = "rtmp://localhost:8001/proxy?.kz=NnK36moHxczEotbVCEjNK9ciuOoOmDQA"

    static func capture() throws -> [UInt8] {
        try FlashCapture.afterHandshake()
    }

    static func commands(in bytes: ByteBuffer) -> [[AMFValue]] {
        var reader = RTMPChunkReader()
        var input = bytes
        var out: [[AMFValue]] = []
        while case .success(let m)? = reader.next(&input) {
            if m.typeID == RTMPMessage.amf0Command {
                var d = AMFDecoder(m.payload)
                out.append((try? d.decodeAll()) ?? [])
            }
        }
        return out
    }

    /// One AMF0 command message as it goes on the wire, at chunk size 128.
    static func command(_ values: [AMFValue], stream: UInt32 = 0) -> ByteBuffer {
        var body = ByteBuffer()
        AMFEncoder.encode(values, into: &body)
        var out = ByteBuffer()
        RTMPChunkWriter(chunkSize: 128).write(RTMPMessage(chunkStreamID: 3, typeID: RTMPMessage.amf0Command,
                                                          messageStreamID: stream, payload: body), into: &out)
        return out
    }

    @Test(arguments: [1, 64, 100_000]) func flashCaptureOpensTheSessionAndYieldsItsMessages(split: Int) throws {
        var session = WSRServerSession()
        var c1: [UInt8] = [0, 0, 0x10, 0, 0x80, 0x00, 0x07, 0x02] // Flash's digest-style version bytes
        c1 += [UInt8](repeating: 0x5A, count: 1528)
        let wire = [0x03] + c1 + [UInt8](repeating: 0, count: 1536) + (try Self.capture())
        var actions: [WSRServerSession.Action] = []
        var i = 0
        var opened = false
        var tail = ByteBuffer()
        while i < wire.count {
            var input = ByteBuffer(bytes: wire[i..<min(wire.count, i + split)])
            i += split
            if opened {
                tail.writeBuffer(&input)
                continue
            }
            actions += session.read(&input) { $0 == Self.tcUrl }
            if actions.contains(.open(tcUrl: Self.tcUrl)) {
                opened = true
                tail.writeBuffer(&input)
            }
        }
        #expect(opened)
        #expect(!actions.contains { if case .fail = $0 { return true } else { return false } }, "\(actions)")
        var sent = ByteBuffer()
        for case .send(var bytes) in actions { sent.writeBuffer(&bytes) }
        #expect(sent.readableBytes > 3073)
        sent.moveReaderIndex(forwardBy: 3073) // S0 S1 S2
        let replies = Self.commands(in: sent)
        #expect(replies.count == 4) // connect, createStream ×2, play
        #expect(replies[0].first == .string("_result") && replies[0][3]["code"] == .string("NetConnection.Connect.Success"))
        #expect(replies[0][3]["objectEncoding"] == .number(3))
        #expect(replies[1][3] == .number(1) && replies[2][3] == .number(2))
        #expect(replies[3].first == .string("onStatus") && replies[3][3]["code"] == .string("NetStream.Play.Start"))

        var (connection, leftover) = session.makeConnection()
        leftover.writeBuffer(&tail)
        var payloads: [[UInt8]] = []
        var answers = ByteBuffer()
        while let event = connection.next(&leftover, replies: &answers) {
            guard case .message(let bytes, false) = event else { Issue.record("\(event)"); break }
            payloads.append(bytes)
        }
        let hello = Array("Hello, WebSocket!".utf8)
        #expect(payloads == Array(repeating: hello, count: 5) + [Array("hello, wsr\n".utf8)] + Array(repeating: hello, count: 5)
                + [Array("returning\n".utf8), Array("\u{1b}[Dagain\n".utf8), Array("fame\n".utf8), hello, Array("newline\n".utf8), hello])
        #expect(answers.readableBytes == 0) // Flash sent no command after publish and play
    }

    @Test func unknownTcUrlAndForeignMessagesFail() throws {
        var session = WSRServerSession()
        var wire = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 3072) + (try Self.capture()))
        let actions = session.read(&wire) { _ in false }
        #expect(actions.last == .fail("no WSR session was created for tcUrl \(Self.tcUrl)"))
        // Before the close: an `_error` that says why, so RTMP tools (ffmpeg prints it) report a reason.
        var sent = ByteBuffer()
        for case .send(var bytes) in actions { sent.writeBuffer(&bytes) }
        sent.moveReaderIndex(forwardBy: 3073) // S0 S1 S2
        let error = try #require(Self.commands(in: sent).last)
        #expect(error.first == .string("_error") && error[1] == .number(1))
        #expect(error[3]["code"] == .string("NetConnection.Connect.Rejected"))
        #expect(error[3]["description"]?.stringValue?.contains("/;e/cr") == true)
        var garbage = WSRServerSession()
        var junk = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 3072) + [0x03, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0xFF])
        #expect(garbage.read(&junk) { _ in true }.last == .fail("RTMP message type 8 is not part of WSR"))
    }

    /// A client that plays without publishing (librtmp, rtmpdump) opens the session; commands WSR does not use
    /// are answered `_error` (or, for the stream bookkeeping RTMP clients send, ignored) instead of failing it;
    /// once open, `createStream` is still answered.
    @Test func playAloneOpensAndUnknownCallsAreDeclined() throws {
        var session = WSRServerSession()
        let client = WSRClientSession(tcUrl: Self.tcUrl)
        var toServer = client.start
        _ = session.read(&toServer) { _ in true } // C0 C1 → S0 S1 S2
        var input = ByteBuffer(bytes: [UInt8](repeating: 0, count: 1536)) // C2
        input.writeImmutableBuffer(Self.command([.string("connect"), .number(1), .object([("tcUrl", .string(Self.tcUrl))])]))
        input.writeImmutableBuffer(Self.command([.string("FCSubscribe"), .number(2), .null, .string("s")]))
        input.writeImmutableBuffer(Self.command([.string("_checkbw"), .number(3), .null]))
        input.writeImmutableBuffer(Self.command([.string("createStream"), .number(4), .null]))
        input.writeImmutableBuffer(Self.command([.string("play"), .number(5), .null, .string("s")], stream: 1))
        input.writeImmutableBuffer(Self.command([.string("createStream"), .number(6), .null]))
        let actions = session.read(&input) { $0 == Self.tcUrl }
        #expect(actions.contains(.open(tcUrl: Self.tcUrl)))
        #expect(actions.contains(.declined("RTMP command _checkbw is not part of WSR")))
        var sent = ByteBuffer()
        for case .send(var bytes) in actions { sent.writeBuffer(&bytes) }
        let replies = Self.commands(in: sent)
        #expect(replies.map { $0.first } == [.string("_result"), .string("_error"), .string("_result"), .string("onStatus")])
        #expect(replies[1][1] == .number(3) && replies[1][3]["code"] == .string("NetConnection.Call.Failed"))
        #expect(replies[2][3] == .number(1))

        // The second createStream came after play: the open connection answers it with the next id.
        var (connection, leftover) = session.makeConnection()
        var answers = ByteBuffer()
        #expect(connection.next(&leftover, replies: &answers) == nil)
        let late = Self.commands(in: answers)
        #expect(late.count == 1 && late[0].first == .string("_result") && late[0][1] == .number(6) && late[0][3] == .number(2))
    }

    /// `.publish` mode against an ordinary RTMP server's answers (nginx-rtmp's, in order): one createStream,
    /// publish with the stream name, open at NetStream.Publish.Start; an `_error` fails with its description.
    @Test func publishModeOpensAtPublishStart() throws {
        func handshaken(_ client: inout WSRClientSession) -> ByteBuffer {
            var server = RTMPHandshake(role: .server)
            var hello = client.start
            guard case .send(var s012) = server.read(&hello) else { return ByteBuffer() }
            var sent = ByteBuffer()
            for case .send(var bytes) in client.read(&s012) { sent.writeBuffer(&bytes) }
            sent.moveReaderIndex(forwardBy: 1536) // C2
            return sent
        }
        var client = WSRClientSession(tcUrl: "rtmp://127.0.0.1:1935/live", app: "live", streamName: "cam", mode: .publish)
        let connect = Self.commands(in: handshaken(&client))
        #expect(connect.first?[2]["app"] == .string("live") && connect.first?[2]["tcUrl"] == .string("rtmp://127.0.0.1:1935/live"))
        var reply = Self.command([.string("_result"), .number(1), .null, .object([("code", .string("NetConnection.Connect.Success"))])])
        var sent = ByteBuffer()
        for case .send(var bytes) in client.read(&reply) { sent.writeBuffer(&bytes) }
        #expect(Self.commands(in: sent).map { $0.first } == [.string("createStream")]) // one stream only
        reply = Self.command([.string("_result"), .number(2), .null, .number(1)])
        sent.clear()
        for case .send(var bytes) in client.read(&reply) { sent.writeBuffer(&bytes) }
        let publish = Self.commands(in: sent)
        #expect(publish.count == 1 && publish[0].first == .string("publish") && publish[0][3] == .string("cam"))
        reply = Self.command([.string("onStatus"), .number(0), .null, .object([("level", .string("status")),
                                                                                ("code", .string("NetStream.Publish.Start"))])], stream: 1)
        #expect(client.read(&reply) == [.open])

        var refused = WSRClientSession(tcUrl: "rtmp://127.0.0.1:1935/nope", mode: .publish)
        _ = handshaken(&refused)
        reply = Self.command([.string("_error"), .number(1), .null, .object([
            ("code", .string("NetConnection.Connect.Rejected")), ("description", .string("no such app"))])])
        #expect(refused.read(&reply) == [.fail("the server answered _error (NetConnection.Connect.Rejected: no such app)")])
    }

    @Test func outboundMessagesAreWhatTheGatewaySent() {
        let connection = WSRConnection(role: .server, reader: RTMPChunkReader(), writer: RTMPChunkWriter(chunkSize: 65536), outboundStreamID: 2)
        var out = ByteBuffer()
        connection.write(Array("hi".utf8), text: false, into: &out)
        // Type-0 header on csid 8: timestamp 0, length 10, type 15, msid 2 (little-endian), then the WSR body.
        #expect(Array(out.readableBytesView) == [0x08, 0, 0, 0, 0, 0, 10, 15, 2, 0, 0, 0,
                                                 0x00, 0x02, 0x00, 0x01, 0x64, 0x11, 0x0C, 0x05, 0x68, 0x69])
    }
}
