import NIOCore
import Testing
@testable import WebSocketEngine

/// A connection asked to stream (`streamedPieceBytes`) delivers a message that outgrows one piece as pieces while
/// it arrives, whatever its framing, and still enforces the message limit, UTF-8 and deflate over the whole.
@Suite struct StreamedMessageTests {
    static let piece = 64 << 10

    func server(maxMessageSize: Int = 1 << 30, compression: PerMessageDeflateCodec? = nil) -> RFC6455Connection {
        RFC6455Connection(role: .server, configuration: .init(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize,
                                                              streamedPieceBytes: Self.piece),
                          compression: compression)
    }

    /// Feeds `wire` in reads of `readSize` and collects the pieces (copied out) and any other event.
    func pieces(_ connection: inout RFC6455Connection, _ wire: [UInt8], readSize: Int)
        -> (pieces: [(opcode: WebSocketOpcode, bytes: [UInt8], isFirst: Bool, isLast: Bool)], others: [WebSocketWireEvent]) {
        var got: [(opcode: WebSocketOpcode, bytes: [UInt8], isFirst: Bool, isLast: Bool)] = []
        var others: [WebSocketWireEvent] = []
        var output = ByteBuffer()
        var at = 0
        while at < wire.count {
            var input = ByteBuffer(bytes: wire[at..<min(at + readSize, wire.count)])
            at += readSize
            while let event = connection.read(from: &input, output: &output) {
                switch event {
                case .messagePiece(let opcode, let data, let isFirst, let isLast):
                    got.append((opcode, Array(data.readableBytesView), isFirst, isLast))
                case .message(let opcode, let data):
                    others.append(.message(opcode, ByteBuffer(bytes: Array(data.readableBytesView))))
                default:
                    others.append(event)
                }
            }
        }
        return (got, others)
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    @Test(arguments: [1, 1400, 16 << 10, 200 << 10])
    func oneLargeFrameArrivesInBoundedPieces(readSize: Int) {
        let payload = Self.randomBytes(1 << 20)
        var s = server()
        let (got, others) = pieces(&s, maskedFrame(.binary, payload), readSize: readSize)
        #expect(others.isEmpty)
        #expect(got.flatMap(\.bytes) == payload)
        #expect(got.count > 1 && got.first!.isFirst && got.last!.isLast)
        #expect(got.dropFirst().allSatisfy { !$0.isFirst } && got.dropLast().allSatisfy { !$0.isLast })
        #expect(got.allSatisfy { $0.opcode == .binary })
        // A piece is cut as soon as a piece's worth is in: at most one read past it.
        #expect(got.allSatisfy { $0.bytes.count < Self.piece + readSize })
    }

    @Test func aFragmentedMessageIsOneStreamOfPieces() {
        let payload = Self.randomBytes(300 << 10)
        let parts = stride(from: 0, to: payload.count, by: 100 << 10).map { Array(payload[$0..<min($0 + (100 << 10), payload.count)]) }
        var wire: [UInt8] = []
        for (n, part) in parts.enumerated() {
            wire += maskedFrame(n == 0 ? .binary : .continuation, part, fin: n == parts.count - 1)
        }
        wire += maskedFrame(.text, Array("after".utf8))
        var s = server()
        let (got, others) = pieces(&s, wire, readSize: 8 << 10)
        #expect(got.flatMap(\.bytes) == payload)
        #expect(got.filter(\.isFirst).count == 1 && got.filter(\.isLast).count == 1 && got.last!.isLast)
        // The next message, under a piece, comes whole as ever.
        #expect(others == [text("after")])
    }

    @Test func messagesUnderAPieceComeWhole() {
        var s = server()
        let payload = Self.randomBytes(Self.piece - 1)
        let (got, others) = pieces(&s, maskedFrame(.binary, payload), readSize: 1000)
        #expect(got.isEmpty)
        #expect(others == [.message(.binary, ByteBuffer(bytes: payload))])
    }

    @Test func theMessageLimitCountsWhatWasStreamed() {
        var s = server(maxMessageSize: 150 << 10)
        let part = Self.randomBytes(64 << 10)
        var wire = maskedFrame(.binary, part, fin: false)
        wire += maskedFrame(.continuation, part, fin: false)
        wire += maskedFrame(.continuation, part, fin: true)
        let (_, others) = pieces(&s, wire, readSize: 4096)
        #expect(others == [.failed(.messageTooBig, reason: "message exceeds the limit of \(150 << 10) bytes")])
    }

    @Test func textIsValidatedAcrossPieceBoundaries() {
        // "é" is two bytes: pieces cut it in half at odd offsets, and the message is still valid.
        let good = Array(String(repeating: "é", count: 100_000).utf8)
        var s = server()
        let (got, others) = pieces(&s, maskedFrame(.text, good), readSize: 4095)
        #expect(others.isEmpty && got.flatMap(\.bytes) == good && got.allSatisfy { $0.opcode == .text })
        #expect(got.contains { $0.bytes.count % 2 == 1 }, "a piece ends inside a character")

        var bad = good
        bad[150_001] = 0xFF
        var t = server()
        let (_, failed) = pieces(&t, maskedFrame(.text, bad), readSize: 4096)
        #expect(failed == [.failed(.invalidFramePayloadData, reason: "invalid UTF-8 in text message")])
    }

    @Test func aCompressedMessageStreamsItsInflatedBytes() {
        let prose = Array(String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 20_000).utf8)
        var c = RFC6455Connection(role: .client, compression: PerMessageDeflateCodec(parameters: .init(), role: .client,
                                                                                    tuning: .init(minimumMessageSize: 0)))
        var wire = ByteBuffer()
        c.writeMessage(.text, payload: ByteBuffer(bytes: prose), into: &wire)
        var s = server(compression: PerMessageDeflateCodec(parameters: .init(), role: .server, tuning: .init(minimumMessageSize: 0)))
        let (got, others) = pieces(&s, Array(wire.readableBytesView), readSize: 1024)
        #expect(others.isEmpty)
        #expect(got.flatMap(\.bytes) == prose && got.count > 1 && got.last!.isLast)
    }
}
