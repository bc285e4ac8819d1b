import Foundation
import NIOCore
import NIOPosix
import WSGateServices
import WebSocketAPI
import WebSocketEngine
@testable import WebSocketTransport

/// A gateway on an ephemeral loopback port, for one test.
func withServer<T>(
    router: ServiceRouter = defaultRouter(), metrics: GatewayMetrics? = GatewayMetrics(),
    configure: (inout ServerConfiguration) -> Void = { _ in },
    _ body: (Int) async throws -> T
) async throws -> T {
    var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
    configure(&configuration)
    let server = try await WebSocketServer.start(configuration: configuration, router: router, metrics: metrics)
    let port = server.localAddress!.port!
    do {
        let result = try await body(port)
        try await server.close()
        return result
    } catch {
        try? await server.close()
        throw error
    }
}

func defaultRouter() -> ServiceRouter {
    ServiceRouter(["/echo": EchoService(), "/broadcast": BroadcastService()])
}

/// What a raw exchange got back, and how it ended: a test that expects the server to hang up asserts `closed`
/// (and fails when the server hangs instead); one that expects it to keep the connection asserts `.stillOpen`.
struct RawReply: CustomStringConvertible {
    enum Ending: Equatable {
        /// The server closed the connection (EOF).
        case eof
        /// The server reset it (it closed with bytes of ours unread, or aborted).
        case reset
        /// The timeout passed with the connection still open.
        case stillOpen
    }
    var bytes: [UInt8]
    var ending: Ending
    /// The server closed the connection (EOF or reset) before the timeout.
    var closed: Bool { ending != .stillOpen }
    var text: String { String(decoding: bytes, as: UTF8.self) }
    var description: String { "\(bytes.count) bytes, \(ending): \(text.prefix(200).debugDescription)" }
}

/// Sends `bytes` over a plain TCP connection and returns everything received until the server closes it, or
/// until `timeout` passes with the connection still open — and which of the two happened. The default timeout
/// is long (a close normally comes at once) so that a slow, busy machine is not taken for a hung server.
func rawExchange(port: Int, _ bytes: [UInt8], timeout: TimeAmount = .seconds(20)) async throws -> RawReply {
    let collector = Collector()
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .channelInitializer { channel in
            channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(collector) }
        }
        .connect(host: "127.0.0.1", port: port).get()
    // The server may already have answered and closed (a timeout under load): what it sent still counts.
    let written = (try? await channel.writeAndFlush(ByteBuffer(bytes: bytes))) != nil
    let timer = channel.eventLoop.scheduleTask(in: timeout) {
        collector.timedOut = true
        channel.close(promise: nil)
    }
    try await channel.closeFuture.get()
    timer.cancel()
    return try await channel.eventLoop.submit {
        let ending: RawReply.Ending = collector.timedOut ? .stillOpen : (collector.reset || !written) ? .reset : .eof
        return RawReply(bytes: collector.received, ending: ending)
    }.get()
}

/// Collects what the server sends, and whether it reset the connection; `timedOut` is set by `rawExchange`.
final class Collector: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    var received: [UInt8] = []
    var reset = false
    var timedOut = false
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        received += Array(unwrapInboundIn(data).readableBytesView)
    }
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? IOError, error.errnoCode == ECONNRESET { reset = true }
        context.close(promise: nil)
    }
}

func upgradeRequest(path: String = "/echo", extra: String = "") -> String {
    "GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extra)\r\n"
}

/// Splits a raw server reply into the HTTP head and the frames after it.
func splitResponse(_ bytes: [UInt8]) -> (head: String, frames: [(WebSocketOpcode, [UInt8])]) {
    let marker: [UInt8] = [13, 10, 13, 10]
    guard let end = (0...(max(0, bytes.count - 4))).first(where: { Array(bytes[$0..<min($0 + 4, bytes.count)]) == marker }) else {
        return (String(decoding: bytes, as: UTF8.self), [])
    }
    var rest = ByteBuffer(bytes: bytes[(end + 4)...])
    var frames: [(WebSocketOpcode, [UInt8])] = []
    while case .header(let h, let len) = FrameHeader.parse(rest), rest.readableBytes >= len + h.payloadLength {
        rest.moveReaderIndex(forwardBy: len)
        frames.append((h.opcode, Array(rest.readBytes(length: h.payloadLength)!)))
    }
    return (String(decoding: bytes[..<end], as: UTF8.self), frames)
}

func clientFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
    var out = ByteBuffer()
    FrameWriter.write(opcode: opcode, fin: fin, payload: ByteBuffer(bytes: payload), maskingKey: MaskingKey(1, 2, 3, 4), into: &out)
    return Array(out.readableBytesView)
}
