import MSRPEngine
import NIOCore
import NIOEmbedded
import Testing
@testable import WSGateMSRP

/// The TCP leg on an `EmbeddedChannel`: bytes in are parsed into chunks for the relay, its answers come out as
/// bytes, and input that is not MSRP gets its 400 and the connection closed.
@Suite struct MSRPStreamLegTests {
    static func relay() throws -> MSRPRelayService {
        try MSRPRelayService(settings: MSRPRelaySettings(host: "127.0.0.1", tcpPort: 1, webSocketPort: 2))
    }

    /// A leg on an embedded channel that is connected (active), so that a test can see the leg close it.
    static func connected(_ relay: MSRPRelayService) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel(handler: MSRPStreamLeg(relay: relay))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 2855)).wait()
        #expect(channel.isActive)
        return channel
    }

    static func outbound(_ channel: EmbeddedChannel) throws -> String {
        channel.embeddedEventLoop.run() // the leg writes on the channel's loop
        var text = ""
        while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
            text += buffer.readString(length: buffer.readableBytes) ?? ""
        }
        return text
    }

    @Test func anAuthSplitAcrossReadsIsAnswered() throws {
        let relay = try Self.relay()
        let channel = try Self.connected(relay)
        let auth = "MSRP a1b2c3d4 AUTH\r\nTo-Path: msrp://127.0.0.1:1;tcp\r\nFrom-Path: msrp://alice.invalid:2855/s1;tcp\r\n-------a1b2c3d4$\r\n"
        let bytes = Array(auth.utf8)
        try channel.writeInbound(ByteBuffer(bytes: bytes[..<30]))
        #expect(try Self.outbound(channel) == "")
        try channel.writeInbound(ByteBuffer(bytes: bytes[30...]))
        let answer = try Self.outbound(channel)
        #expect(answer.hasPrefix("MSRP a1b2c3d4 200 OK\r\nTo-Path: msrp://alice.invalid:2855/s1;tcp\r\nFrom-Path: msrp://127.0.0.1:1;tcp\r\n"), "\(answer)")
        #expect(answer.contains("Use-Path: msrp://127.0.0.1:1/") && answer.hasSuffix("-------a1b2c3d4$\r\n"))
        #expect(relay.sessionCount == 1)
        // The session ends with the connection.
        _ = try channel.finish()
        #expect(relay.sessionCount == 0)
    }

    @Test func anOversizedChunkClosesTheConnection() throws {
        var settings = MSRPRelaySettings(host: "127.0.0.1", tcpPort: 1, webSocketPort: 2)
        settings.limits.maxBodyBytes = 16
        settings.maxStreamedChunkBytes = 16
        let relay = try MSRPRelayService(settings: settings)
        let channel = try Self.connected(relay)
        let head = "MSRP big1 SEND\r\nTo-Path: msrp://127.0.0.1:1/x;tcp msrp://b.example:1/y;tcp\r\nFrom-Path: msrp://c.example:1/z;tcp\r\n"
            + "Message-ID: m\r\nByte-Range: 1-*/*\r\nContent-Type: text/plain\r\n\r\n"
        let rest = String(repeating: "x", count: 100) + "\r\n-------big1$\r\n"
        let send = head + rest
        // Whole in one read: refused for its size before it is routed, once.
        try channel.writeInbound(ByteBuffer(string: send))
        let answer = try Self.outbound(channel)
        #expect(answer.hasPrefix("MSRP big1 400 Bad Request\r\n") && answer.components(separatedBy: "MSRP big1 ").count == 2, "\(answer)")
        #expect(!channel.isActive)

        // Its head in a read of its own: routed on the head (its session does not exist: 481); past the limit the
        // connection is closed without a second answer to the same transaction.
        let streamed = try Self.connected(relay)
        try streamed.writeInbound(ByteBuffer(string: head + "xxxx"))
        try streamed.writeInbound(ByteBuffer(string: rest))
        let first = try Self.outbound(streamed)
        #expect(first.hasPrefix("MSRP big1 481 Session Does Not Exist\r\n") && !first.contains(" 400 "), "\(first)")
        #expect(!streamed.isActive)
    }

    /// A chunk whose Byte-Range declares it short is taken whole however the reads split it, so a body longer than
    /// declared is refused (400) before it is routed — the same answer as when it arrives in one read.
    @Test func aShortByteRangeThatLiesIsRefusedBeforeRoutingHoweverTheReadsSplit() throws {
        let relay = try Self.relay()
        let channel = try Self.connected(relay)
        let head = "MSRP lie1 SEND\r\nTo-Path: msrp://127.0.0.1:1/x;tcp msrp://b.example:1/y;tcp\r\nFrom-Path: msrp://c.example:1/z;tcp\r\n"
            + "Message-ID: m\r\nByte-Range: 1-10/10\r\nContent-Type: text/plain\r\n\r\n"
        try channel.writeInbound(ByteBuffer(string: head + "xxxx"))
        #expect(try Self.outbound(channel) == "", "a short chunk is not routed before it is whole")
        try channel.writeInbound(ByteBuffer(string: String(repeating: "x", count: 20) + "\r\n-------lie1$\r\n"))
        let answer = try Self.outbound(channel)
        #expect(answer.hasPrefix("MSRP lie1 400 Bad Request\r\n") && answer.components(separatedBy: "MSRP lie1 ").count == 2, "\(answer)")
        #expect(channel.isActive, "a refused chunk does not end the connection")
        _ = try channel.finish()
    }
}
