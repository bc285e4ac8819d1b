// Benchmark peer: the classic SwiftNIO WebSocket server (NIOWebSocketServerUpgrader + a frame-level
// ChannelInboundHandler) turned into an echo server. Every data frame is echoed with its opcode and
// FIN bit (so text stays text, binary stays binary, fragmented messages are echoed fragment by
// fragment); ping is answered with pong, close with close. Writes happen in channelRead, one flush
// per read batch in channelReadComplete.
//
//   nio-websocket-echo [PORT] [HOST] [--word-unmask] [--tls-cert=PEM --tls-key=PEM]
//                                          (defaults: 9001 127.0.0.1; upgrades only on /echo)
//
// With --tls-cert/--tls-key it serves wss:// through NIOSSL's NIOSSLServerHandler first in the pipeline (how
// swift-nio's own examples add TLS), with BoringSSL's defaults.
//
// By default payloads are unmasked with NIOWebSocket's own `frame.unmaskedData` (a byte-at-a-time loop in
// swift-nio 2.101). `--word-unmask` (Benchmarks/run.sh server `nio-wordmask`, not a default peer) copies and
// unmasks 8 bytes at a time instead, to show how much of the large-message cost is that loop.
// (WebSocketFrameEncoder writes each frame header as its own buffer — 2 iovecs per frame — in both modes:
// its prepend-in-place path needs the payload buffer uniquely owned, and the frame still holds it.)
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import NIOWebSocket

#if canImport(Glibc)
import Glibc
#endif

/// Echoes WebSocket frames. One instance per connection.
final class WebSocketEchoHandler: ChannelInboundHandler {
    typealias InboundIn = WebSocketFrame
    typealias OutboundOut = WebSocketFrame

    private let wordUnmask: Bool
    private var awaitingClose = false
    private var pendingFlush = false

    init(wordUnmask: Bool) {
        self.wordUnmask = wordUnmask
    }

    private func payload(of frame: WebSocketFrame, allocator: ByteBufferAllocator) -> ByteBuffer {
        guard wordUnmask, let key = frame.maskKey else { return frame.unmaskedData }
        return wordUnmasked(frame.data, key: key, allocator: allocator)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = Self.unwrapInboundIn(data)
        switch frame.opcode {
        case .text, .binary, .continuation:
            guard !awaitingClose else { return }
            let reply = WebSocketFrame(fin: frame.fin, opcode: frame.opcode,
                                       data: payload(of: frame, allocator: context.channel.allocator))
            context.write(Self.wrapOutboundOut(reply), promise: nil)
            pendingFlush = true
        case .ping:
            guard !awaitingClose else { return }
            let pong = WebSocketFrame(fin: true, opcode: .pong, data: frame.unmaskedData)
            context.write(Self.wrapOutboundOut(pong), promise: nil)
            pendingFlush = true
        case .pong:
            break
        case .connectionClose:
            receivedClose(context: context, frame: frame)
        default:
            closeOnError(context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if pendingFlush {
            pendingFlush = false
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func receivedClose(context: ChannelHandlerContext, frame: WebSocketFrame) {
        if awaitingClose {
            // We sent the close first; this is the answer.
            context.close(promise: nil)
            return
        }
        // Echo the peer's status code (if any) and close once it is written.
        var data = frame.unmaskedData
        let code = data.readSlice(length: 2) ?? ByteBuffer()
        let close = WebSocketFrame(fin: true, opcode: .connectionClose, data: code)
        awaitingClose = true
        pendingFlush = false
        context.writeAndFlush(Self.wrapOutboundOut(close)).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    private func closeOnError(context: ChannelHandlerContext) {
        var data = context.channel.allocator.buffer(capacity: 2)
        data.write(webSocketErrorCode: .protocolError)
        awaitingClose = true
        context.writeAndFlush(Self.wrapOutboundOut(WebSocketFrame(fin: true, opcode: .connectionClose, data: data)))
            .assumeIsolated().whenComplete { _ in context.close(mode: .output, promise: nil) }
    }
}

/// A copy of `masked` unmasked with `key`, eight bytes at a time.
func wordUnmasked(_ masked: ByteBuffer, key: WebSocketMaskingKey, allocator: ByteBufferAllocator) -> ByteBuffer {
    let count = masked.readableBytes
    var out = allocator.buffer(capacity: count)
    let key32 = UInt32(key[0]) | UInt32(key[1]) << 8 | UInt32(key[2]) << 16 | UInt32(key[3]) << 24
    let key64 = UInt64(littleEndian: UInt64(key32) | UInt64(key32) << 32)
    masked.withUnsafeReadableBytes { source in
        _ = out.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { target in
            var i = 0
            while i + 8 <= count {
                let word = source.loadUnaligned(fromByteOffset: i, as: UInt64.self) ^ key64
                target.storeBytes(of: word, toByteOffset: i, as: UInt64.self)
                i += 8
            }
            while i < count {
                target[i] = source[i] ^ key[i & 3]
                i += 1
            }
            return count
        }
    }
    return out
}

/// Answers plain HTTP requests (no upgrade, or a path other than /echo): 404, connection closed.
final class HTTPNotFoundHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = Self.unwrapInboundIn(data) else { return }
        var headers = HTTPHeaders()
        headers.add(name: "Content-Length", value: "0")
        headers.add(name: "Connection", value: "close")
        context.write(Self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .notFound, headers: headers))),
                      promise: nil)
        context.writeAndFlush(Self.wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}

let wordUnmask = CommandLine.arguments.contains("--word-unmask")
let arguments = CommandLine.arguments.filter { !$0.hasPrefix("--") }
func flagValue(_ name: String) -> String? {
    CommandLine.arguments.first { $0.hasPrefix("--\(name)=") }.map { String($0.dropFirst(name.count + 3)) }
}
let tlsContext: NIOSSLContext? = try flagValue("tls-cert").map { cert in
    guard let key = flagValue("tls-key") else { fatalError("--tls-cert needs --tls-key") }
    let configuration = TLSConfiguration.makeServerConfiguration(
        certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
        privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
    return try NIOSSLContext(configuration: configuration)
}
let port = arguments.count > 1 ? Int(arguments[1]) ?? 9001 : 9001
let host = arguments.count > 2 ? arguments[2] : "127.0.0.1"

let group = MultiThreadedEventLoopGroup(numberOfThreads: System.coreCount)

let upgrader = NIOWebSocketServerUpgrader(
    maxFrameSize: 16 << 20,
    automaticErrorHandling: true,
    shouldUpgrade: { channel, head in
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? head.uri
        return channel.eventLoop.makeSucceededFuture(path == "/echo" ? HTTPHeaders() : nil)
    },
    upgradePipelineHandler: { channel, _ in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(WebSocketEchoHandler(wordUnmask: wordUnmask))
        }
    }
)

let bootstrap = ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 4096)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelOption(.maxMessagesPerRead, value: 16)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            if let tlsContext {
                try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
            }
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                withServerUpgrade: (
                    upgraders: [upgrader],
                    completionHandler: { context in
                        context.pipeline.syncOperations.removeHandler(name: "not-found", promise: nil)
                    }
                )
            )
            try channel.pipeline.syncOperations.addHandler(HTTPNotFoundHandler(), name: "not-found")
        }
    }

let channel = try bootstrap.bind(host: host, port: port).wait()
let banner = "nio-websocket-echo listening on \(tlsContext == nil ? "ws" : "wss")://\(host):\(channel.localAddress?.port ?? port)/echo"
    + (wordUnmask ? " (word-wide unmask)\n" : "\n")
_ = banner.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count - 1) }
try channel.closeFuture.wait()
try group.syncShutdownGracefully()
