import NIOCore
import Testing
@testable import WebSocketEngine

/// The examples of RFC 6455 §5.7 and §1.3, byte for byte.
@Suite struct RFCExampleTests {
    @Test func acceptKeyOfSection1_3() {
        #expect(AcceptKey.compute(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func singleFrameUnmaskedText() {
        let wire = hexBytes("81 05 48 65 6c 6c 6f")
        #expect(unmaskedFrame(.text, Array("Hello".utf8)) == wire)
        var client = RFC6455Connection(role: .client)
        #expect(drive(&client, wire).actions == [text("Hello")])
    }

    @Test func singleFrameMaskedText() {
        let wire = hexBytes("81 85 37 fa 21 3d 7f 9f 4d 51 58")
        #expect(maskedFrame(.text, Array("Hello".utf8), key: MaskingKey(0x37, 0xfa, 0x21, 0x3d)) == wire)
        var server = RFC6455Connection(role: .server)
        #expect(drive(&server, wire).actions == [text("Hello")])
    }

    @Test func fragmentedUnmaskedText() {
        let wire = hexBytes("01 03 48 65 6c") + hexBytes("80 02 6c 6f")
        var client = RFC6455Connection(role: .client)
        #expect(drive(&client, wire).actions == [text("Hello")])
    }

    @Test func unmaskedPingAndMaskedPong() {
        let ping = hexBytes("89 05 48 65 6c 6c 6f")
        var client = RFC6455Connection(role: .client)
        let result = drive(&client, ping)
        #expect(result.actions == [.ping(ByteBuffer(string: "Hello"))])
        // The automatic pong is masked and carries the same payload.
        let frames = decodeServerFrames(result.output)
        #expect(frames.count == 1 && frames[0].0 == .pong && frames[0].2 == Array("Hello".utf8))
        #expect(result.output[1] & 0x80 != 0)

        let pong = hexBytes("8a 85 37 fa 21 3d 7f 9f 4d 51 58")
        var server = RFC6455Connection(role: .server)
        #expect(drive(&server, pong).actions == [.pong(ByteBuffer(string: "Hello"))])
    }

    @Test func binary256BytesUses16BitLength() {
        let payload = (0..<256).map { UInt8(truncatingIfNeeded: $0) }
        let wire = unmaskedFrame(.binary, payload)
        #expect(Array(wire.prefix(4)) == hexBytes("82 7E 01 00"))
        var client = RFC6455Connection(role: .client)
        #expect(drive(&client, wire).actions == [binary(payload)])
    }

    @Test func binary64KiBUses64BitLength() {
        let payload = [UInt8](repeating: 0xAB, count: 65536)
        let wire = unmaskedFrame(.binary, payload)
        #expect(Array(wire.prefix(10)) == hexBytes("82 7F 00 00 00 00 00 01 00 00"))
        var client = RFC6455Connection(role: .client)
        #expect(drive(&client, wire).actions == [binary(payload)])
    }
}
