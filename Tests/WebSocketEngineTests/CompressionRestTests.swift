import NIOCore
import Testing
@testable import WebSocketEngine

/// A resting codec (`PerMessageDeflateCodec.rest()`) ends its zlib streams between messages and re-creates them
/// from the history it kept: its peer, which never rests, must read every message as if nothing had happened.
@Suite struct CompressionRestTests {
    /// Messages that refer back to each other: each repeats most of the one before (as chat JSON repeats its keys)
    /// and, every fourth, one from up to 3 KiB back.
    static let messages: [[UInt8]] = {
        var out: [[UInt8]] = []
        for i in 0..<64 {
            let base = #"{"type":"message","room":"general","from":{"id":"u-\#(i % 7)","name":"user \#(i % 7)"},"id":\#(1000 + i),"#
            var text = base + #""text":"\#(String(repeating: "word\(i % 5) ", count: 8 + (i * 37) % 90))"}"#
            if i % 4 == 3, out.count >= 3 { text += String(decoding: out[out.count - 3], as: UTF8.self) }
            out.append(Array(text.utf8))
        }
        return out
    }()

    func connection(_ role: RFC6455Connection.Role, _ p: PerMessageDeflate.Parameters,
                    tuning: PerMessageDeflate.Tuning = .init(minimumMessageSize: 0)) -> RFC6455Connection {
        RFC6455Connection(role: role, configuration: .init(), compression: PerMessageDeflateCodec(parameters: p, role: role, tuning: tuning))
    }

    static let parameterSets: [PerMessageDeflate.Parameters] = [
        .init(),
        .init(clientMaxWindowBits: 12),
        .init(serverMaxWindowBits: 9, clientMaxWindowBits: 9),
        .init(serverMaxWindowBits: 8, clientMaxWindowBits: 8),
        .init(serverNoContextTakeover: true, clientNoContextTakeover: true),
    ]

    /// Server → client with the server resting before every message; client → server with the server resting
    /// before every message it reads. The peer keeps its full window.
    @Test(arguments: parameterSets)
    func aCodecThatRestsBetweenMessagesIsReadByOneThatNeverDoes(parameters: PerMessageDeflate.Parameters) {
        var server = connection(.server, parameters)
        var client = connection(.client, parameters)
        for (n, payload) in Self.messages.enumerated() {
            let rested = server.restCompression()
            #expect(rested == (n > 0), "nothing to rest before the first message")
            #expect(server.compression?.holdsStreams == false)
            var wire = ByteBuffer()
            server.writeMessage(.text, payload: ByteBuffer(bytes: payload), into: &wire)
            #expect(drive(&client, Array(wire.readableBytesView)).actions == [.message(.text, ByteBuffer(bytes: payload))], "server → client #\(n)")
            _ = server.restCompression()
            wire.clear()
            client.writeMessage(.text, payload: ByteBuffer(bytes: payload), into: &wire)
            #expect(drive(&server, Array(wire.readableBytesView)).actions == [.message(.text, ByteBuffer(bytes: payload))], "client → server #\(n)")
        }
    }

    /// The resting codec keeps at most `restHistoryBytes` of its own history and the peer's whole window, and
    /// nothing of either without context takeover.
    @Test func whatARestingCodecKeeps() {
        let big = PerMessageDeflate.Parameters(clientMaxWindowBits: 12)
        var server = connection(.server, big, tuning: .init(minimumMessageSize: 0, restHistoryBytes: 1000))
        var client = connection(.client, big)
        var wire = ByteBuffer()
        for payload in Self.messages {
            server.writeMessage(.text, payload: ByteBuffer(bytes: payload), into: &wire)
        }
        var toServer = ByteBuffer()
        for payload in Self.messages { client.writeMessage(.text, payload: ByteBuffer(bytes: payload), into: &toServer) }
        #expect(drive(&server, Array(toServer.readableBytesView)).actions.count == Self.messages.count)
        let rested = server.restCompression()
        #expect(rested)
        // ≤ 1000 of its own (zlib may keep up to 258 fewer than it was given) + the client's 4 KiB window.
        let kept = server.compression!.restingBytes
        #expect(kept > 4096 && kept <= 1000 + 4096, "\(kept)")
        let again = server.restCompression()
        #expect(!again, "resting twice is nothing")

        var forgetful = connection(.server, .init(serverNoContextTakeover: true, clientNoContextTakeover: true))
        var c2 = connection(.client, .init(serverNoContextTakeover: true, clientNoContextTakeover: true))
        var w2 = ByteBuffer()
        c2.writeMessage(.text, payload: ByteBuffer(bytes: Self.messages[5]), into: &w2)
        _ = drive(&forgetful, Array(w2.readableBytesView))
        forgetful.writeMessage(.text, payload: ByteBuffer(bytes: Self.messages[5]), into: &w2)
        let forgot = forgetful.restCompression()
        #expect(forgot && forgetful.compression!.restingBytes == 0)
    }

    /// Half a compressed message received: the inflater holds its state, so the codec does not rest.
    @Test func noRestInsideACompressedMessage() {
        var server = connection(.server, .init())
        var client = connection(.client, .init())
        var wire = ByteBuffer()
        client.writeMessage(.text, payload: ByteBuffer(bytes: Self.messages[10]), into: &wire)
        let bytes = Array(wire.readableBytesView)
        _ = drive(&server, Array(bytes.prefix(bytes.count / 2)))
        let early = server.restCompression()
        #expect(!early)
        #expect(drive(&server, Array(bytes.dropFirst(bytes.count / 2))).actions == [.message(.text, ByteBuffer(bytes: Self.messages[10]))])
        let after = server.restCompression()
        #expect(after)
    }

    /// Resting costs little ratio when the history kept covers what chat messages repeat: here within 15 % of a
    /// codec that never rests.
    @Test func restingKeepsMostOfContextTakeoversRatio() {
        func wireBytes(resting: Bool) -> Int {
            var server = connection(.server, .init())
            var total = 0
            for payload in Self.messages {
                if resting { _ = server.restCompression() }
                var wire = ByteBuffer()
                server.writeMessage(.text, payload: ByteBuffer(bytes: payload), into: &wire)
                total += wire.readableBytes
            }
            return total
        }
        let kept = wireBytes(resting: false), rested = wireBytes(resting: true)
        #expect(Double(rested) <= Double(kept) * 1.15, "\(rested) vs \(kept)")
    }
}
