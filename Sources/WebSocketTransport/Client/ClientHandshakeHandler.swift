import Logging
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// Sends the opening handshake, checks the server's answer, then replaces itself with the frame handler —
/// for RFC 6455 (`ClientHandshake`, the response read as an HTTP head) or a hixie draft
/// (`HixieClientHandshake`, which reads the response byte by byte as seed 001 §4.1 prescribes).
final class ClientHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum Opening {
        case rfc6455(ClientHandshake, ResponseHeadReader)
        /// The hixie handshake and the bytes received but not yet consumed by it.
        case hixie(HixieClientHandshake, ByteBuffer)
        /// The server answered with another status than 101: its body is read (up to `refusalBodyLimit`, its
        /// Content-Length, the connection's end or `refusalBodyWait`) so the refusal can say what the server said.
        case refused(HTTPResponseHead, body: ByteBuffer)
    }

    /// How much of a refusal's body is kept, and how long the rest is waited for.
    static let refusalBodyLimit = 4096
    static let refusalBodyWait: TimeAmount = .seconds(1)

    private var opening: Opening
    private let url: WebSocketURL
    private let configuration: WebSocketClientConfiguration
    private let handler: any WebSocketHandler
    private let opened: EventLoopPromise<any WebSocketConnection>
    private let logger: Logger
    private var done = false
    private var requestSent = false

    init(opening: Opening, url: WebSocketURL, configuration: WebSocketClientConfiguration, handler: any WebSocketHandler,
         opened: EventLoopPromise<any WebSocketConnection>, logger: Logger) {
        self.opening = opening
        self.url = url
        self.configuration = configuration
        self.handler = handler
        self.opened = opened
        self.logger = logger
    }

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
        let bytes: ByteBuffer
        switch opening {
        case .rfc6455(let handshake, _): bytes = ByteBuffer(string: handshake.request)
        case .hixie(let handshake, _): bytes = ByteBuffer(bytes: handshake.request)
        case .refused: return  // only ever after the request went out
        }
        context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var incoming = unwrapInboundIn(data)
        switch opening {
        case .rfc6455(let handshake, var reader):
            let outcome = reader.read(&incoming)
            opening = .rfc6455(handshake, reader)
            switch outcome {
            case .needMoreData:
                return
            case .failed(let error):
                fail(WebSocketTransportError.handshakeFailed("bad response: \(error)"), context: context)
            case .complete(let head):
                switch handshake.validate(head) {
                case .failure(.unexpectedStatus):
                    opening = .refused(head, body: reader.takeRemainder())
                    context.eventLoop.assumeIsolated().scheduleTask(in: Self.refusalBodyWait) { [self] in
                        failRefused(context: context)
                    }
                    readRefusal(ByteBuffer(), context: context)
                case .failure(let failure):
                    fail(WebSocketTransportError.handshakeFailed(failure.description), context: context)
                case .success(let negotiated):
                    installRFC6455(negotiated, remainder: reader.takeRemainder(), context: context)
                }
            }
        case .refused:
            readRefusal(incoming, context: context)
        case .hixie(var handshake, var pending):
            pending.writeBuffer(&incoming)
            let step = handshake.read(&pending)
            opening = .hixie(handshake, pending)
            switch step {
            case .needMoreData:
                return
            case .failed(let why):
                fail(WebSocketTransportError.handshakeFailed(why), context: context)
            case .established(let response):
                installHixie(handshake, response: response, remainder: pending, context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if case .refused = opening { failRefused(context: context) }
        if !done {
            done = true
            opened.fail(WebSocketTransportError.connectionEnded)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(WebSocketTransportError.describing(error, host: url.host, port: url.port), context: context)
    }

    private func installRFC6455(_ negotiated: ClientHandshake.Negotiated, remainder: ByteBuffer, context: ChannelHandlerContext) {
        var deflate: PerMessageDeflate.Parameters?
        if let offered = configuration.compression {
            switch PerMessageDeflate.negotiated(in: negotiated.extensions, offered: offered) {
            case .failure(let error):
                return fail(WebSocketTransportError.handshakeFailed(error.description), context: context)
            case .success(let parameters):
                deflate = parameters
            }
        }
        var request = makeRequest(headers: negotiated.response.headers, wire: .rfc6455, subprotocol: negotiated.subprotocol,
                                  context: context)
        request.compression = deflate
        let codec = deflate.flatMap { parameters in
            configuration.compression.map { PerMessageDeflateCodec(parameters: parameters, role: .client, tuning: $0.tuning) }
        }
        let engine = RFC6455Connection(role: .client, configuration: configuration.engine, compression: codec)
        start(engine: engine, request: request, remainder: remainder, context: context)
    }

    private func installHixie(_ handshake: HixieClientHandshake, response: HixieClientHandshake.Response, remainder: ByteBuffer,
                              context: ChannelHandlerContext) {
        // The response's headers (names in lowercase; cookies among them) are the caller's to read.
        let headers = HTTPFields(response.headers.map { ($0.name, $0.value) })
        let request = makeRequest(headers: headers, wire: WebSocketWire(handshake.draft),
                                  subprotocol: handshake.subprotocol, context: context)
        let engine = HixieConnection(draft: handshake.draft, role: .client,
                                     configuration: .init(maxMessageSize: configuration.engine.maxMessageSize))
        start(engine: engine, request: request, remainder: remainder, context: context)
    }

    private func makeRequest(headers: HTTPFields, wire: WebSocketWire, subprotocol: String?, context: ChannelHandlerContext) -> WebSocketRequest {
        let path = url.resourceName.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let query = url.resourceName.firstIndex(of: "?").map { String(url.resourceName[url.resourceName.index(after: $0)...]) }
        var request = WebSocketRequest(path: path, query: query, headers: headers, origin: configuration.origin,
                                       remoteAddress: context.remoteAddress, wire: wire, subprotocol: subprotocol)
        request.secure = url.secure
        return request
    }

    private func start<Engine: WebSocketWireEngine>(engine: Engine, request: WebSocketRequest, remainder: ByteBuffer,
                                                    context: ChannelHandlerContext) {
        done = true
        let frames = WebSocketChannelHandler(engine: engine, request: request, handler: handler, eventLoop: context.eventLoop,
                                             options: .init(closeTimeout: configuration.closeTimeout), logger: logger)
        do {
            try frames.install(replacing: context, leftover: remainder) { opened.succeed($0) }
        } catch {
            done = false
            fail(error, context: context)
        }
    }

    /// Adds `more` of a refusal's body; fails once all of it (or the most kept) is in.
    private func readRefusal(_ more: ByteBuffer, context: ChannelHandlerContext) {
        guard case .refused(let head, var body) = opening else { return }
        var more = more
        body.writeBuffer(&more)
        opening = .refused(head, body: body)
        let expected = head.headers["Content-Length"].flatMap { Int($0.trimmingOWS()) } ?? Self.refusalBodyLimit
        if body.readableBytes >= min(expected, Self.refusalBodyLimit) { failRefused(context: context) }
    }

    private func failRefused(context: ChannelHandlerContext) {
        guard case .refused(let head, let body) = opening else { return }
        let text = String(decoding: body.readableBytesView.prefix(Self.refusalBodyLimit), as: UTF8.self)
        fail(WebSocketTransportError.handshakeRefused(status: head.status, reason: head.reason, body: text), context: context)
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        logger.debug("client handshake failed", metadata: ["error": "\(error)"])
        opened.fail(error)
        context.close(promise: nil)
    }
}
