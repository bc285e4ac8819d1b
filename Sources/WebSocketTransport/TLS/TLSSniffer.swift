import Logging
import NIOCore
import NIOSSL
import WebSocketEngine

/// First handler on a listener that takes TLS and plaintext on one port: looks at the first byte of a connection
/// and installs TLS for a ClientHello (content type 0x16); anything else goes on as plaintext when the listener
/// allows it, and is otherwise refused. One sniffer for every listener — the gateway's (`ws`/`wss`) and the MSRP
/// relay's (`msrp`/`msrps`) — which differ only in what they do once TLS is in and what a refused plaintext
/// client is told.
package final class TLSSniffer: ChannelInboundHandler, RemovableChannelHandler {
    package typealias InboundIn = ByteBuffer
    package typealias OutboundOut = ByteBuffer

    /// TLS record type "handshake" (RFC 8446 §5.1): the first byte of every ClientHello.
    static let handshakeRecord: UInt8 = 0x16

    private let tls: ServerTLS
    private let logger: Logger
    private let didInstallTLS: () -> Void
    private let refusal: (ChannelHandlerContext) -> ByteBuffer?
    private var decided = false

    /// - didInstallTLS: called once the TLS handler is in, before the first byte passes on.
    /// - refusal: when `tls.allowPlaintext` is off, the answer written to a plaintext client before it is closed
    ///   (nil: closed without a word).
    package init(tls: ServerTLS, logger: Logger, didInstallTLS: @escaping () -> Void = {},
                 refusal: @escaping (ChannelHandlerContext) -> ByteBuffer? = { _ in nil }) {
        self.tls = tls
        self.logger = logger
        self.didInstallTLS = didInstallTLS
        self.refusal = refusal
    }

    /// The gateway's listener: TLS marks the handshake secure; a plain HTTP request on a TLS-only port gets `400`
    /// so a `ws://` client pointed at a `wss://` port gets an answer rather than a hang.
    convenience init(tls: ServerTLS, handshake: ServerHandshakeHandler, metrics: GatewayMetrics?, logger: Logger) {
        self.init(tls: tls, logger: logger, didInstallTLS: { handshake.secure = true }, refusal: { context in
            metrics?.handshakeFailed(.plaintextOnTLS)
            logger.info("plain request on a TLS port refused", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            return ByteBuffer(string: HandshakeRejection.badRequest("This port speaks TLS: use wss:// (or https://).").response)
        })
    }

    package func channelRead(context: ChannelHandlerContext, data: NIOAny) {
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
            didInstallTLS()
        } else if !tls.allowPlaintext {
            if let answer = refusal(context) {
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(answer)).whenComplete { _ in channel.close(promise: nil) }
            } else {
                context.close(promise: nil)
            }
            return
        }
        context.fireChannelRead(data)
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
