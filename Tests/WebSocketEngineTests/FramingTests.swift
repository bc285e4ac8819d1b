import NIOCore
import Testing
@testable import WebSocketEngine

@Suite struct FramingTests {
    @Test(arguments: [0, 1, 125, 126, 127, 65535, 65536, 70000])
    func lengthBoundariesRoundTrip(length: Int) {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let wire = maskedFrame(.binary, payload)
        let expectedHeader = 2 + (length < 126 ? 0 : length <= 65535 ? 2 : 8) + 4
        #expect(wire.count == expectedHeader + length)
        var server = RFC6455Connection(role: .server)
        #expect(drive(&server, wire).actions == [binary(payload)])
    }

    @Test func nonMinimalLengthsAreRefused() {
        // 5 bytes announced with the 16-bit form, and 200 with the 64-bit form.
        let sixteen = hexBytes("82 FE 00 05 00 00 00 00") + [UInt8](repeating: 0, count: 5)
        let sixtyFour = hexBytes("82 FF 00 00 00 00 00 00 00 C8 00 00 00 00") + [UInt8](repeating: 0, count: 200)
        for wire in [sixteen, sixtyFour] {
            var server = RFC6455Connection(role: .server)
            #expect(drive(&server, wire).actions == [.failed(.protocolError, reason: "frame length not minimally encoded")])
        }
    }

    @Test func highBitOf64BitLengthIsRefused() {
        let wire = hexBytes("82 FF 80 00 00 00 00 00 00 00 00 00 00 00")
        var server = RFC6455Connection(role: .server)
        guard case .failed(.protocolError, _) = drive(&server, wire).actions.first else { Issue.record("not refused"); return }
    }

    @Test func everyByteSplitOfAFrameSequenceGivesTheSameMessages() {
        let wire = maskedFrame(.text, Array("Hé".utf8), fin: false) + maskedFrame(.ping, [1, 2])
            + maskedFrame(.continuation, Array("llo wörld".utf8)) + maskedFrame(.binary, Array(repeating: 7, count: 300))
        let expected: [WebSocketWireEvent] = [.ping(ByteBuffer(bytes: [1, 2])), text("Héllo wörld"), binary(Array(repeating: 7, count: 300))]
        for split in 0...wire.count {
            var server = RFC6455Connection(role: .server)
            #expect(drive(&server, [Array(wire[..<split]), Array(wire[split...])]).actions == expected, "split at \(split)")
        }
        // And one byte per read.
        var server = RFC6455Connection(role: .server)
        #expect(drive(&server, wire.map { [$0] }).actions == expected)
    }

    @Test func controlFramesInterleavedWithFragmentsAreAnsweredInOrder() {
        let wire = maskedFrame(.binary, [1], fin: false) + maskedFrame(.ping, Array("a".utf8))
            + maskedFrame(.continuation, [2], fin: false) + maskedFrame(.pong, []) + maskedFrame(.continuation, [3])
        var server = RFC6455Connection(role: .server)
        let result = drive(&server, wire)
        #expect(result.actions == [.ping(ByteBuffer(string: "a")), .pong(ByteBuffer()), binary([1, 2, 3])])
        #expect(result.output == unmaskedFrame(.pong, Array("a".utf8)))
    }

    @Test func masking() {
        let server = WebSocketRole.server
        // A server refuses unmasked frames, a client refuses masked ones.
        var s = RFC6455Connection(role: server)
        #expect(drive(&s, unmaskedFrame(.text, [0x41])).actions == [.failed(.protocolError, reason: "unmasked frame from a client")])
        var c = RFC6455Connection(role: .client)
        #expect(drive(&c, maskedFrame(.text, [0x41])).actions == [.failed(.protocolError, reason: "masked frame from a server")])
    }

    @Test func maskingRoundTripsAtEveryPhaseAndLength() {
        var rng = SystemRandomNumberGenerator()
        for length in 0..<80 {
            let key = MaskingKey.random(using: &rng)
            let original = (0..<length).map { _ in UInt8.random(in: 0...255, using: &rng) }
            for split in 0...length {
                var bytes = original
                bytes.withUnsafeMutableBytes { buf in
                    let phase = Masking.apply(key: key, phase: 0, to: UnsafeMutableRawBufferPointer(rebasing: buf[..<split]))
                    Masking.apply(key: key, phase: phase, to: UnsafeMutableRawBufferPointer(rebasing: buf[split...]))
                }
                // Byte-by-byte reference.
                let reference = original.enumerated().map { $0.element ^ key[$0.offset] }
                #expect(bytes == reference)
                bytes.withUnsafeMutableBytes { _ = Masking.apply(key: key, to: $0) }
                #expect(bytes == original)
            }
        }
    }

    @Test func reservedBitsAndOpcodes() {
        var s1 = RFC6455Connection(role: .server)
        #expect(drive(&s1, maskedFrame(.text, [0x41], rsv: FrameHeader.rsv1)).actions
                == [.failed(.protocolError, reason: "reserved bits set without a negotiated extension")])
        for op: UInt8 in [3, 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF] {
            var s = RFC6455Connection(role: .server)
            #expect(drive(&s, maskedFrame(WebSocketOpcode(rawValue: op), [])).actions
                    == [.failed(.protocolError, reason: "reserved opcode \(op)")])
        }
        // An extension that negotiated RSV1 makes it legal.
        var s2 = RFC6455Connection(role: .server, configuration: .init(allowedReservedBits: FrameHeader.rsv1))
        #expect(drive(&s2, maskedFrame(.binary, [1], rsv: FrameHeader.rsv1)).actions == [binary([1])])
    }

    @Test func fragmentationRules() {
        var a = RFC6455Connection(role: .server)
        #expect(drive(&a, maskedFrame(.continuation, [1])).actions
                == [.failed(.protocolError, reason: "continuation frame without a message to continue")])
        var b = RFC6455Connection(role: .server)
        #expect(drive(&b, maskedFrame(.text, [0x41], fin: false) + maskedFrame(.text, [0x42])).actions
                == [.failed(.protocolError, reason: "new data frame while a fragmented message is in progress")])
        var c = RFC6455Connection(role: .server)
        #expect(drive(&c, maskedFrame(.ping, [], fin: false)).actions == [.failed(.protocolError, reason: "fragmented control frame")])
        var d = RFC6455Connection(role: .server)
        #expect(drive(&d, maskedFrame(.ping, Array(repeating: 0, count: 126))).actions
                == [.failed(.protocolError, reason: "control frame payload over 125 bytes")])
    }

    @Test func sizeLimitsFailWith1009BeforeThePayloadArrives() {
        let config = RFC6455Connection.Configuration(maxFrameSize: 100, maxMessageSize: 150)
        var frame = RFC6455Connection(role: .server, configuration: config)
        // Only the header of a 101-byte frame: refused at once.
        let header = Array(maskedFrame(.binary, Array(repeating: 0, count: 101)).prefix(6))
        guard case .failed(.messageTooBig, _) = drive(&frame, header).actions.first else { Issue.record("frame limit"); return }

        var message = RFC6455Connection(role: .server, configuration: config)
        let wire = maskedFrame(.binary, Array(repeating: 0, count: 100), fin: false) + maskedFrame(.continuation, Array(repeating: 0, count: 51))
        guard case .failed(.messageTooBig, _) = drive(&message, wire).actions.first else { Issue.record("message limit"); return }

        var exact = RFC6455Connection(role: .server, configuration: config)
        let ok = maskedFrame(.binary, Array(repeating: 0, count: 100), fin: false) + maskedFrame(.continuation, Array(repeating: 0, count: 50))
        #expect(drive(&exact, ok).actions == [binary(Array(repeating: 0, count: 150))])
    }

    @Test func hugeContinuationLengthDoesNotOverflowTheMessageLimit() {
        // Found by FuzzFrames: with no frame limit, a 63-bit continuation length overflowed `assembled + length`.
        var s = RFC6455Connection(role: .client, configuration: .init(maxFrameSize: .max, maxMessageSize: 100))
        let wire = hexBytes("02 02 61 62") + hexBytes("00 7f 7f ff ff ff ff ff ff fe")
        guard case .failed(.messageTooBig, _) = drive(&s, wire).actions.first else { Issue.record("not refused"); return }
    }

    @Test func inputIsIgnoredAfterAFailureButRepliesCanStillBeSent() {
        var s = RFC6455Connection(role: .server)
        let result = drive(&s, maskedFrame(.text, [0x41]) + maskedFrame(.text, [0x42], rsv: 0x40) + maskedFrame(.ping, []))
        #expect(result.actions.count == 2)
        #expect(result.actions[0] == text("A"))
        #expect(s.inputFailure?.code == .protocolError)
        var out = ByteBuffer()
        #expect(s.writeMessage(.text, payload: ByteBuffer(string: "A"), into: &out) == .written)
        #expect(s.writeClose(s.inputFailure!, into: &out) == .written)
        let frames = decodeServerFrames(Array(out.readableBytesView))
        #expect(frames.map(\.0) == [.text, .close])
        #expect(closeCode(of: frames[1].2) == 1002)
    }
}
