import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOEmbedded
import NIOPosix
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WSGateMSRP

/// The WebSocket leg (RFC 7977) over a connection that records what it is sent: one chunk per message either
/// way, a message that is not one chunk closes with 1008, and a chunk too big for the leg is re-chunked.
@Suite struct MSRPWebSocketLegTests {
    static let alice = "msrp://df7jal23ls0d.invalid:2855/98cjs;ws"

    static func relay(maxWebSocketMessage: Int = 64 << 10) throws -> MSRPRelayService {
        var settings = MSRPRelaySettings(host: "127.0.0.1", tcpPort: 1, webSocketPort: 2)
        settings.maxWebSocketMessage = maxWebSocketMessage
        return try MSRPRelayService(settings: settings)
    }

    /// Alice's WebSocket leg, authenticated; returns it with the Use-Path she was given.
    static func openAlice(on relay: MSRPRelayService) throws -> (RecordingConnection, any WebSocketHandler, String) {
        let connection = RecordingConnection()
        let handler = relay.makeHandler()
        handler.connectionDidOpen(connection)
        let auth = "MSRP a1b2c3d4 AUTH\r\nTo-Path: msrp://127.0.0.1:2;ws\r\nFrom-Path: \(alice)\r\n-------a1b2c3d4$\r\n"
        handler.connection(connection, didReceive: .text(auth))
        let answer = try #require(connection.messages.first)
        #expect(answer.kind == .text)
        let text = String(buffer: answer.data)
        #expect(text.hasPrefix("MSRP a1b2c3d4 200 OK\r\n"), "\(text)")
        let use = try #require(text.split(separator: "\r\n").first { $0.hasPrefix("Use-Path: ") }?.dropFirst("Use-Path: ".count))
        return (connection, handler, String(use))
    }

    @Test func aMessageThatIsNotOneChunkClosesTheLegWith1008() throws {
        let relay = try Self.relay()
        let (connection, handler, _) = try Self.openAlice(on: relay)
        let one = "MSRP e5f6g7h8 AUTH\r\nTo-Path: msrp://127.0.0.1:2;ws\r\nFrom-Path: \(Self.alice)\r\n-------e5f6g7h8$\r\n"
        handler.connection(connection, didReceive: .text(one + one))
        #expect(connection.closeCode == .policyViolation)
        handler.connectionDidClose(connection, info: WebSocketCloseInfo(code: 1008, reason: "", wasClean: true))
        #expect(relay.sessionCount == 0)
    }

    /// Authenticates `leg` (a TCP endpoint of its own URI) and returns the To-Path tail that reaches it: its
    /// Use-Path and its URI.
    static func sessionPath(of leg: RecordingLeg, on relay: MSRPRelayService) -> String? {
        let uri = "msrp://bob.invalid:2855/b1;tcp"
        relay.received(MSRPChunk(head: MSRPHead(transactionID: "bobauth1", startLine: .request(method: "AUTH"), fields: [
            .init("To-Path", "msrp://127.0.0.1:1;tcp"), .init("From-Path", uri),
        ])), on: leg.id)
        return leg.chunks.first?.head["Use-Path"].map { "\($0) \(uri)" }
    }

    /// A message larger than a piece comes in pieces (the transport's `WebSocketStreamingHandler`): its chunk is
    /// streamed on as they come, and a piece that begins a second chunk in the same message closes with 1008.
    @Test func aChunkArrivingInPiecesIsStreamedAndASecondChunkInTheMessageIsRefused() throws {
        let relay = try Self.relay()
        let (connection, handler, use) = try Self.openAlice(on: relay)
        let streaming = try #require(handler as? any WebSocketStreamingHandler)
        #expect(streaming.streaming.maxMessageBytes > relay.settings.maxStreamedChunkBytes)
        let bob = RecordingLeg(relay: relay)
        // Bob's leg is a URI of the relay's own: Alice sends to it as to any session of the relay.
        let bobPath = try #require(Self.sessionPath(of: bob, on: relay))
        let body = String(repeating: "0123456789", count: 30_000)
        let head = "MSRP s1s1s1s1 SEND\r\nTo-Path: \(use) \(bobPath)\r\nFrom-Path: \(Self.alice)\r\nMessage-ID: m1\r\n"
            + "Byte-Range: 1-\(body.utf8.count)/\(body.utf8.count)\r\nContent-Type: text/plain\r\n\r\n"
        let whole = Array((head + body + "\r\n-------s1s1s1s1$\r\n").utf8)
        let cuts = [0, 70_000, 140_000, 210_000, whole.count]
        for i in 0..<cuts.count - 1 {
            streaming.connection(connection, didReceivePiece: WebSocketMessagePiece(
                kind: .text, data: ByteBuffer(bytes: whole[cuts[i]..<cuts[i + 1]]), isFirst: i == 0, isLast: i == cuts.count - 2))
        }
        let got = bob.chunks.filter { $0.head["Message-ID"] == "m1" }
        #expect(got.map { String(buffer: $0.body ?? ByteBuffer()) }.joined() == body)
        #expect(got.last?.continuation == .complete)
        #expect(connection.messages.dropFirst().contains { String(buffer: $0.data).hasPrefix("MSRP s1s1s1s1 200 OK") })

        let second = "MSRP s2s2s2s2 SEND\r\nTo-Path: \(use) \(bobPath)\r\nFrom-Path: \(Self.alice)\r\nMessage-ID: m2\r\n"
            + "Byte-Range: 1-3/3\r\nContent-Type: text/plain\r\n\r\nabc\r\n-------s2s2s2s2$\r\n"
        let two = Array((head + body + "\r\n-------s1s1s1s1$\r\n" + second).utf8)
        streaming.connection(connection, didReceivePiece: WebSocketMessagePiece(
            kind: .text, data: ByteBuffer(bytes: two[..<100_000]), isFirst: true, isLast: false))
        streaming.connection(connection, didReceivePiece: WebSocketMessagePiece(
            kind: .text, data: ByteBuffer(bytes: two[100_000...]), isFirst: false, isLast: true))
        #expect(connection.closeCode == .policyViolation)
        #expect(!bob.chunks.contains { $0.head["Message-ID"] == "m2" })
    }

    @Test func aChunkTooBigForTheLegIsRechunked() throws {
        let relay = try Self.relay(maxWebSocketMessage: 1024)
        let (connection, _, use) = try Self.openAlice(on: relay)
        // Bob, somewhere else, sends Alice 5000 bytes in one chunk.
        let bob = RecordingLeg(relay: relay)
        let body = String((0..<5000).map { Character(UnicodeScalar(UInt8(97 + $0 % 26))) })
        let send = MSRPHead(transactionID: "bob00001", startLine: .request(method: "SEND"), fields: [
            .init("To-Path", "\(use) \(Self.alice)"), .init("From-Path", "msrp://bob.example:2855/b;tcp"),
            .init("Message-ID", "big"), .init("Byte-Range", "1-5000/5000"), .init("Content-Type", "text/plain"),
        ])
        relay.received(MSRPChunk(head: send, body: ByteBuffer(string: body)), on: bob.id)
        #expect(bob.chunks.map { $0.head.statusCode } == [200])
        let pieces = connection.messages.dropFirst() // after the AUTH answer
        #expect(pieces.count > 4)
        var joined = ""
        var next = 1
        var tids = Set<String>()
        for (i, message) in pieces.enumerated() {
            #expect(message.data.readableBytes <= 1024 && message.kind == .text)
            var reader = MSRPChunkReader()
            var data = message.data
            guard case .success(let chunk)? = reader.next(&data) else {
                Issue.record("piece \(i) is not a chunk")
                continue
            }
            let range = try #require(chunk.head["Byte-Range"].flatMap(ByteRange.init(parsing:)))
            #expect(range.start == next && range.total == 5000)
            #expect(chunk.continuation == (i == pieces.count - 1 ? .complete : .more))
            tids.insert(chunk.head.transactionID)
            joined += String(buffer: chunk.body ?? ByteBuffer())
            next = (range.end ?? 0) + 1
        }
        #expect(joined == body && tids.count == pieces.count)
    }
}

/// A WebSocket connection that keeps what it is sent and how it was closed. Its event loop is an embedded one on
/// the test's thread, so the test calls the handler on the connection's loop, as the transport does.
final class RecordingConnection: WebSocketConnection {
    private let state = NIOLockedValueBox((messages: [WebSocketMessage](), closeCode: CloseCode?.none))
    let request = WebSocketRequest(path: "/msrp", wire: .rfc6455, subprotocol: "msrp")
    private let loop = EmbeddedEventLoop()
    var eventLoop: any EventLoop { loop }

    /// What was sent so far: sends are made on the event loop, so this runs what it has queued first.
    var messages: [WebSocketMessage] {
        loop.run()
        return state.withLockedValue { $0.messages }
    }
    var closeCode: CloseCode? {
        loop.run() // a leg closes on the connection's loop, after what it wrote
        return state.withLockedValue { $0.closeCode }
    }

    func send(_ message: WebSocketMessage, promise: EventLoopPromise<Void>?) {
        state.withLockedValue { $0.messages.append(message) }
        promise?.succeed()
    }

    func send(_ message: PreparedMessage, promise: EventLoopPromise<Void>?) {
        promise?.succeed()
    }

    func ping(_ payload: ByteBuffer) {}

    func close(code: CloseCode, reason: String) {
        state.withLockedValue { $0.closeCode = code }
    }

    func setReadingPaused(_ paused: Bool) {}
    var isWritable: Bool { true }
    func inboundDidDrain() {}
}
