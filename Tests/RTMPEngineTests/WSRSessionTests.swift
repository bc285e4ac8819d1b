import Foundation
import NIOCore
import Testing
@testable import RTMPEngine

/// The WSR server session on the real Flash Player 11 bytes (wsr.md §7): handshake of our making, the capture's
/// commands answered as the gateway answered them, then the 17 WebSocket messages from the open session.
@Suite struct WSRSessionTests {
    static let tcUrl = "rtmp://localhost:8001/proxy?.kz=NnK36moHxczEotbVCEjNK9ciuOoOmDQA"

    static func capture() throws -> [UInt8] {
        let url = try #require(Bundle.module.url(forResource: "wsr-flash11-after-handshake", withExtension: "bin", subdirectory: "Data"))
        return Array(try Data(contentsOf: url))
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
        while let event = connection.next(&leftover) {
            guard case .message(let bytes, false) = event else { Issue.record("\(event)"); break }
            payloads.append(bytes)
        }
        let hello = Array("Hello, WebSocket!".utf8)
        #expect(payloads == Array(repeating: hello, count: 5) + [Array("hello, wsr\n".utf8)] + Array(repeating: hello, count: 5)
                + [Array("returning\n".utf8), Array("\u{1b}[Dagain\n".utf8), Array("fame\n".utf8), hello, Array("newline\n".utf8), hello])
    }

    @Test func unknownTcUrlAndForeignMessagesFail() throws {
        var session = WSRServerSession()
        var wire = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 3072) + (try Self.capture()))
        let actions = session.read(&wire) { _ in false }
        #expect(actions.last == .fail("connect for an unknown tcUrl"))
        var garbage = WSRServerSession()
        var junk = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 3072) + [0x03, 0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0, 0xFF])
        #expect(garbage.read(&junk) { _ in true }.last == .fail("RTMP message type 8 is not part of WSR"))
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
