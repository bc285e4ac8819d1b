import NIOCore
import Testing
@testable import WebSocketEngine

@Suite struct CloseTests {
    private func closePayload(_ code: UInt16, _ reason: [UInt8] = []) -> [UInt8] {
        [UInt8(code >> 8), UInt8(code & 0xFF)] + reason
    }

    @Test func peerInitiatedCloseIsEchoed() {
        var s = RFC6455Connection(role: .server)
        let result = drive(&s, maskedFrame(.close, closePayload(1000, Array("bye".utf8))))
        #expect(result.actions == [.closed(CloseFrame(code: .normalClosure, reason: "bye"), initiatedByPeer: true)])
        let frames = decodeServerFrames(result.output)
        #expect(frames.count == 1 && frames[0].0 == .close && closeCode(of: frames[0].2) == 1000)
        #expect(s.state == .closed)
        // Nothing more is read or written.
        #expect(drive(&s, maskedFrame(.text, [0x41])).actions.isEmpty)
        var out = ByteBuffer()
        #expect(s.writeMessage(.text, payload: ByteBuffer(string: "x"), into: &out) == .refused(.closed))
    }

    @Test func emptyCloseIsAnsweredWith1000() {
        var s = RFC6455Connection(role: .server)
        let result = drive(&s, maskedFrame(.close, []))
        #expect(result.actions == [.closed(CloseFrame(code: nil), initiatedByPeer: true)])
        #expect(closeCode(of: decodeServerFrames(result.output)[0].2) == 1000)
    }

    @Test func applicationCodesAreEchoed() {
        for code: UInt16 in [1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999] {
            var s = RFC6455Connection(role: .server)
            let result = drive(&s, maskedFrame(.close, closePayload(code)))
            #expect(closeCode(of: decodeServerFrames(result.output)[0].2) == code)
        }
    }

    @Test func invalidCodesFailWith1002() {
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            var s = RFC6455Connection(role: .server)
            guard case .failed(.protocolError, _) = drive(&s, maskedFrame(.close, closePayload(code))).actions.first else {
                Issue.record("code \(code) accepted")
                continue
            }
        }
    }

    @Test func oneByteBodyFailsWith1002() {
        var s = RFC6455Connection(role: .server)
        #expect(drive(&s, maskedFrame(.close, [0x03])).actions == [.failed(.protocolError, reason: "close frame with a one-byte body")])
    }

    @Test func invalidUTF8ReasonFailsWith1007() {
        var s = RFC6455Connection(role: .server)
        #expect(drive(&s, maskedFrame(.close, closePayload(1000, [0xCE, 0xBA, 0xE1, 0xBD]))).actions
                == [.failed(.invalidFramePayloadData, reason: "close reason is not UTF-8")])
    }

    @Test func locallyInitiatedCloseCompletesOnThePeersReply() {
        var c = RFC6455Connection(role: .client)
        var out = ByteBuffer()
        #expect(c.writeClose(CloseFrame(code: .goingAway, reason: "done"), into: &out) == .written)
        #expect(c.state == .closeSent)
        #expect(c.writeClose(CloseFrame(code: .normalClosure), into: &out) == .refused(.closed))
        // Data still arriving before the peer's close is delivered, not dropped.
        let result = drive(&c, unmaskedFrame(.text, Array("late".utf8)) + unmaskedFrame(.close, closePayload(1001)))
        #expect(result.actions == [text("late"), .closed(CloseFrame(code: .goingAway), initiatedByPeer: false)])
        #expect(result.output.isEmpty)
        #expect(c.state == .closed)
    }

    @Test func closeReasonIsTruncatedAtACharacterBoundary() {
        var buffer = ByteBuffer()
        CloseFrame(code: .normalClosure, reason: String(repeating: "é", count: 100)).encode(into: &buffer)
        #expect(buffer.readableBytes <= 125)
        var s = RFC6455Connection(role: .client)
        var wire = ByteBuffer()
        FrameWriter.write(opcode: .close, payload: buffer, maskingKey: nil, into: &wire)
        guard case .closed(let frame, _) = drive(&s, Array(wire.readableBytesView)).actions.first else { Issue.record("no close"); return }
        #expect(frame.reason.count == 61)
    }
}
