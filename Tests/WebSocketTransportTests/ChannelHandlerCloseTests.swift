import Logging
import NIOCore
import NIOEmbedded
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// The channel handler carrying out the close lifecycle, on an EmbeddedChannel: what goes on the wire, when TCP
/// is (half-)closed, and what the service is told.
@Suite struct ChannelHandlerCloseTests {
    /// A service handler that records what it hears.
    final class Recording: WebSocketHandler {
        var connection: (any WebSocketConnection)?
        var messages: [WebSocketMessage] = []
        var closes: [WebSocketCloseInfo] = []
        var busy = false
        func connectionDidOpen(_ connection: any WebSocketConnection) { self.connection = connection }
        func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) { messages.append(message) }
        func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) { closes.append(info) }
        var hasUnfinishedInbound: Bool { busy }
    }

    /// Stands for the socket's output half-close, which EmbeddedChannel lacks (it would close the channel).
    final class HalfCloseRecorder: ChannelOutboundHandler {
        typealias OutboundIn = NIOAny
        var halfClosed = false
        func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
            guard mode == .output else { return context.close(mode: mode, promise: promise) }
            halfClosed = true
            promise?.succeed(())
        }
    }

    struct Harness {
        let loop: EmbeddedEventLoop
        let channel: EmbeddedChannel
        let recorder = HalfCloseRecorder()
        let service = Recording()

        init<Engine: WebSocketWireEngine>(_ engine: Engine, lingerByteLimit: Int = 1 << 20) throws {
            loop = EmbeddedEventLoop()
            channel = EmbeddedChannel(loop: loop)
            var options = WebSocketChannelHandler<Engine>.Options(closeTimeout: .seconds(2))
            options.lingerByteLimit = lingerByteLimit
            let frames = WebSocketChannelHandler(engine: engine, request: WebSocketRequest(path: "/t", wire: engine.wire),
                                                 handler: service, eventLoop: loop, options: options, logger: Logger(label: "test"))
            try channel.pipeline.syncOperations.addHandler(recorder)
            try channel.pipeline.syncOperations.addHandler(frames)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 9)).wait()
        }

        func receive(_ bytes: [UInt8]) throws {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        }

        /// Everything the handler wrote so far, as bytes.
        func written() throws -> [UInt8] {
            var out: [UInt8] = []
            while let buffer = try channel.readOutbound(as: ByteBuffer.self) { out += Array(buffer.readableBytesView) }
            return out
        }
    }

    /// The frames in `bytes` (as a server or client wrote them), unmasked: (opcode, payload).
    static func frames(_ bytes: [UInt8]) -> [(opcode: WebSocketOpcode, payload: [UInt8])] {
        var buffer = ByteBuffer(bytes: bytes)
        var out: [(opcode: WebSocketOpcode, payload: [UInt8])] = []
        while case .header(let header, let length) = FrameHeader.parse(buffer), buffer.readableBytes >= length + header.payloadLength {
            buffer.moveReaderIndex(forwardBy: length)
            var payload = Array(buffer.readBytes(length: header.payloadLength)!)
            if let key = header.maskingKey { payload.withUnsafeMutableBytes { _ = Masking.apply(key: key, to: $0) } }
            out.append((header.opcode, payload))
        }
        #expect(buffer.readableBytes == 0, "bytes that are not whole frames: \(Array(buffer.readableBytesView))")
        return out
    }

    /// The close code of a close frame's payload.
    static func code(_ payload: [UInt8]) -> UInt16? {
        payload.count >= 2 ? UInt16(payload[0]) << 8 | UInt16(payload[1]) : nil
    }

    static func serverEngine(maxMessageSize: Int = 1 << 20) -> RFC6455Connection {
        RFC6455Connection(role: .server, configuration: .init(maxFrameSize: maxMessageSize, maxMessageSize: maxMessageSize))
    }

    /// A masked frame header announcing `length` bytes (the payload follows separately, or never).
    static func maskedHeader(_ opcode: WebSocketOpcode, length: Int) -> [UInt8] {
        var out = ByteBuffer()
        FrameHeader(opcode: opcode, maskingKey: MaskingKey(1, 2, 3, 4), payloadLength: length).write(into: &out)
        return Array(out.readableBytesView)
    }

    @Test func aFailedConnectionLingersSoThePeerReadsTheCloseCode() throws {
        let h = try Harness(Self.serverEngine(maxMessageSize: 100))
        try h.receive(Self.maskedHeader(.binary, length: 1000) + Array(repeating: 7, count: 300))
        let frames = Self.frames(try h.written())
        #expect(frames.count == 1 && frames[0].opcode == .close && Self.code(frames[0].payload) == 1009)
        #expect(h.recorder.halfClosed, "the output is half-closed after the close frame")
        #expect(h.channel.isActive, "still reading: a close with unread input would reset the connection")
        // The rest of the oversized message, and more, are discarded, not delivered.
        try h.receive(Array(repeating: 7, count: 700) + clientFrame(.text, Array("late".utf8)))
        #expect(h.service.messages.isEmpty && h.service.closes.isEmpty && h.channel.isActive)
        // The peer's EOF ends it (the timer too, below).
        _ = try h.channel.close().wait()
        #expect(h.service.closes == [WebSocketCloseInfo(code: 1009, reason: "frame of 1000 bytes exceeds the limit of 100", wasClean: false)])
    }

    @Test func lingeringIsBoundedInTime() throws {
        let h = try Harness(Self.serverEngine())
        try h.receive([0x83, 0x80, 1, 2, 3, 4]) // reserved opcode 3
        #expect(Self.code(Self.frames(try h.written())[0].payload) == 1002)
        h.loop.advanceTime(by: .milliseconds(1999))
        #expect(h.channel.isActive)
        h.loop.advanceTime(by: .milliseconds(1))
        #expect(!h.channel.isActive)
        #expect(h.service.closes.map(\.code) == [1002])
    }

    @Test func lingeringIsBoundedInBytes() throws {
        let h = try Harness(Self.serverEngine(maxMessageSize: 10), lingerByteLimit: 1000)
        try h.receive(Self.maskedHeader(.binary, length: 5000))
        try h.receive(Array(repeating: 0, count: 1000))
        #expect(h.channel.isActive)
        try h.receive([0])
        #expect(!h.channel.isActive)
        #expect(h.service.closes.map(\.code) == [1009])
    }

    @Test func aBusyServiceAnswersFirstThenTheFailureGoesOut() throws {
        let h = try Harness(Self.serverEngine())
        h.service.busy = true
        try h.receive(clientFrame(.text, Array("question".utf8)) + [0x83, 0x80, 1, 2, 3, 4])
        #expect(h.service.messages.count == 1)
        #expect(try h.written().isEmpty, "no close while the service works on the question")
        let connection = try #require(h.service.connection)
        connection.send(text: "answer")
        connection.inboundDidDrain()
        let frames = Self.frames(try h.written())
        #expect(frames.map(\.opcode) == [.text, .close])
        #expect(frames[0].payload == Array("answer".utf8) && Self.code(frames[1].payload) == 1002)
        #expect(h.recorder.halfClosed)
    }

    @Test func thePeersCloseIsAnsweredAndTheServerClosesTCP() throws {
        let h = try Harness(Self.serverEngine())
        try h.receive(clientFrame(.close, [0x03, 0xE8] + Array("bye".utf8)))
        let frames = Self.frames(try h.written())
        #expect(frames.count == 1 && Self.code(frames[0].payload) == 1000)
        #expect(!h.channel.isActive)
        #expect(h.service.closes == [WebSocketCloseInfo(code: 1000, reason: "bye", wasClean: true)])
    }

    @Test func aPeerThatNeverAnswersOurCloseIsDroppedAs1006() throws {
        let h = try Harness(Self.serverEngine())
        try #require(h.service.connection).close(code: .goingAway, reason: "server shutting down")
        #expect(Self.code(Self.frames(try h.written())[0].payload) == 1001)
        #expect(h.channel.isActive)
        h.loop.advanceTime(by: .seconds(2))
        #expect(!h.channel.isActive)
        #expect(h.service.closes == [WebSocketCloseInfo(code: 1006, reason: "", wasClean: false)])
    }

    @Test func aClientWaitsForTheServerToCloseTCPAfterTheHandshake() throws {
        let h = try Harness(RFC6455Connection(role: .client))
        var close = ByteBuffer()
        FrameWriter.write(opcode: .close, payload: ByteBuffer(bytes: [0x03, 0xE9]), maskingKey: nil, into: &close)
        try h.receive(Array(close.readableBytesView))
        let reply = Self.frames(try h.written())
        #expect(reply.count == 1 && reply[0].opcode == .close && Self.code(reply[0].payload) == 1001)
        #expect(h.channel.isActive, "§7.1.1: the server closes TCP first")
        h.loop.advanceTime(by: .seconds(2))
        #expect(!h.channel.isActive)
        #expect(h.service.closes == [WebSocketCloseInfo(code: 1001, reason: "", wasClean: true)])
    }

    @Test func aHixie75ClientHalfClosesAndReportsAServerThatNeverCloses() throws {
        let h = try Harness(HixieConnection(draft: .hixie75, role: .client))
        try #require(h.service.connection).close(code: .normalClosure, reason: "")
        #expect(h.recorder.halfClosed && h.channel.isActive)
        try h.receive([0x00] + Array("still arriving".utf8) + [0xFF])
        #expect(h.service.messages.map(\.text) == ["still arriving"])
        h.loop.advanceTime(by: .seconds(2))
        #expect(h.service.closes == [WebSocketCloseInfo(code: 1006, reason: "the server did not close in time", wasClean: false)])
    }

    @Test func aHixie75ServerCloseIsCleanOnceItsWritesAreOut() throws {
        let h = try Harness(HixieConnection(draft: .hixie75, role: .server))
        let connection = try #require(h.service.connection)
        connection.send(text: "last")
        connection.close(code: .normalClosure, reason: "done")
        #expect(try h.written() == [0x00] + Array("last".utf8) + [0xFF])
        #expect(!h.channel.isActive && !h.recorder.halfClosed)
        #expect(h.service.closes == [WebSocketCloseInfo(code: 1000, reason: "done", wasClean: true)])
    }
}
