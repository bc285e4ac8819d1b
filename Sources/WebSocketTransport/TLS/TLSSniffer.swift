import Logging
import NIOCore
import NIOSSL
import WebSocketEngine

/// First handler on a TLS listener: looks at the first byte of a connection and installs TLS for a
/// ClientHello (content type 0x16), lets a plain request through when plaintext is allowed, and otherwise
/// answers `400` so a `ws://` client pointed at a `wss://` port gets an answer rather than a hang.
final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// TLS record type "handshake" (RFC 8446 §5.1): the first byte of every ClientHello.
    static let handshakeRecord: UInt8 = 0x16

    private let tls: ServerTLS
    private let handshake: ServerHandshakeHandler
    private let logger: Logger
    private let metrics: GatewayMetrics?
    private var decided = false

    init(tls: ServerTLS, handshake: ServerHandshakeHandler, metrics: GatewayMetrics?, logger: Logger) {
        self.tls = tls
        self.handshake = handshake
        self.metrics = metrics
        self.logger = logger
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !decided else { return context.fireChannelRead(data) }
        let bytes = unwrapInboundIn(data)
        guard let first = bytes.getInteger(at: bytes.readerIndex, as: UInt8.self) else { return }
        decided = true
        if first == Self.handshakeRecord {
            do {
                try context.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls.context), position: .after(self))
            } catch {
                logger.error("could not install TLS", metadata: ["error": "\(error)"])
                context.close(promise: nil)
                return
            }
            handshake.secure = true
        } else if !tls.allowPlaintext {
            metrics?.handshakeFailed(.plaintextOnTLS)
            logger.info("plain request on a TLS port refused", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            let response = HandshakeRejection.badRequest("This port speaks TLS: use wss:// (or https://).").response
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenComplete { _ in context.close(promise: nil) }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
