import Logging
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// Sends the opening handshake, checks the server's answer, then replaces itself with the frame handler.
final class ClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let handshake: ClientHandshake
    private let configuration: WebSocketClientConfiguration
    private let handler: any WebSocketHandler
    private let opened: EventLoopPromise<any WebSocketConnection>
    private let logger: Logger
    private var response: ResponseHeadReader
    private var done = false

    init(handshake: ClientHandshake, configuration: WebSocketClientConfiguration, handler: any WebSocketHandler,
         opened: EventLoopPromise<any WebSocketConnection>, logger: Logger) {
        self.handshake = handshake
        self.configuration = configuration
        self.handler = handler
        self.opened = opened
        self.logger = logger
        self.response = ResponseHeadReader(limits: configuration.responseLimits)
    }

    private var requestSent = false

    /// Added behind a proxy tunnel or TLS, the channel is already active: the request goes out at once (TLS
    /// holds it until its own handshake is done).
    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { sendRequest(context: context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        sendRequest(context: context)
        context.fireChannelActive()
    }

    private func sendRequest(context: ChannelHandlerContext) {
        guard !requestSent else { return }
        requestSent = true
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: handshake.request)), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var incoming = unwrapInboundIn(data)
        switch response.read(&incoming) {
        case .needMoreData:
            return
        case .failed(let error):
            fail(WebSocketTransportError.handshakeFailed("bad response: \(error)"), context: context)
        case .complete(let head):
            switch handshake.validate(head) {
            case .failure(let failure):
                fail(WebSocketTransportError.handshakeFailed(failure.description), context: context)
            case .success(let negotiated):
                install(negotiated, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            opened.fail(WebSocketTransportError.connectionEnded)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(WebSocketTransportError.describing(error, host: handshake.url.host, port: handshake.url.port), context: context)
    }

    private func install(_ negotiated: ClientHandshake.Negotiated, context: ChannelHandlerContext) {
        var deflate: PerMessageDeflate.Parameters?
        if let offered = configuration.compression {
            switch PerMessageDeflate.negotiated(in: negotiated.extensions, offered: offered) {
            case .failure(let error):
                return fail(WebSocketTransportError.handshakeFailed(error.description), context: context)
            case .success(let parameters):
                deflate = parameters
            }
        }
        done = true
        let url = handshake.url
        let path = url.resourceName.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let query = url.resourceName.firstIndex(of: "?").map { String(url.resourceName[url.resourceName.index(after: $0)...]) }
        var request = WebSocketRequest(path: path, query: query, headers: negotiated.response.headers,
                                       origin: handshake.origin, remoteAddress: context.remoteAddress,
                                       wire: .rfc6455, subprotocol: negotiated.subprotocol)
        request.compression = deflate
        var options = RFC6455ChannelHandler.Options(engine: configuration.engine, closeTimeout: configuration.closeTimeout)
        if let deflate, let tuning = configuration.compression?.tuning {
            options.compression = PerMessageDeflateCodec(parameters: deflate, role: .client, tuning: tuning)
        }
        let frames = RFC6455ChannelHandler(role: .client, request: request, handler: handler,
                                           eventLoop: context.eventLoop, options: options, logger: logger)
        do {
            try context.pipeline.syncOperations.addHandler(frames, position: .after(self))
        } catch {
            fail(error, context: context)
            return
        }
        opened.succeed(frames)
        let buffer = response.takeRemainder()
        if buffer.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(buffer))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        logger.debug("client handshake failed", metadata: ["error": "\(error)"])
        opened.fail(error)
        context.close(promise: nil)
    }
}
