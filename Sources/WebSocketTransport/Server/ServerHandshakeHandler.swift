import Logging
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// The first handler of every accepted connection: reads the HTTP request head, routes it, and either
/// answers with an HTTP error or upgrades, replacing itself with the wire's frame handler.
final class ServerHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let router: ServiceRouter
    private let configuration: ServerConfiguration
    private let logger: Logger
    private let metrics: GatewayMetrics?
    private var parser: HTTPHeadParser
    private var buffer = ByteBuffer()
    private var finished = false
    private var timeout: Scheduled<Void>?
    /// Whether the connection runs over TLS (set by `TLSSniffer` before the first byte arrives here).
    var secure = false
    /// Told the WebSocket a successful upgrade made (the listener's connection tracker).
    var upgraded: ((any WebSocketConnection) -> Void)?

    init(router: ServiceRouter, configuration: ServerConfiguration, metrics: GatewayMetrics?, logger: Logger) {
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.parser = HTTPHeadParser(limits: configuration.handshakeLimits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timeout = context.eventLoop.scheduleTask(in: configuration.handshakeTimeout) { [logger, metrics] in
            metrics?.handshakeFailed(.timeout)
            logger.info("handshake timed out", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        timeout?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !finished else { return }
        var incoming = unwrapInboundIn(data)
        buffer.writeBuffer(&incoming)
        let result = buffer.withUnsafeReadableBytes { parser.parseRequest($0) }
        switch result {
        case .needMoreData:
            return
        case .failed(let error):
            reject(HandshakeRejection(error), reason: .malformedRequest, context: context)
        case .complete(let head, let length):
            buffer.moveReaderIndex(forwardBy: length)
            route(head, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timeout?.cancel()
        context.fireChannelInactive()
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let route = router.route(for: head.path)
        let service = route?.service
        guard ServerHandshake.isUpgradeRequest(head) else {
            if let resource = router.resource(for: head.path) {
                serve(resource, to: head, context: context)
            } else if service == nil {
                reject(.notFound(head.path), reason: .notFound, context: context)
            } else {
                reject(.upgradeRequired("\(head.path) is a WebSocket endpoint"), reason: .upgradeRequired, context: context)
            }
            return
        }
        guard let service, let route else { return reject(.notFound(head.path), reason: .notFound, context: context) }
        let valid: ServerHandshake.Request
        switch ServerHandshake.validate(head) {
        case .failure(let rejection): return reject(rejection, reason: .invalidHandshake, context: context)
        case .success(let request): valid = request
        }
        guard route.origins.allows(valid.origin) else {
            return reject(.forbidden("origin \(valid.origin ?? "") is not allowed on \(head.path)"), reason: .originDenied,
                          context: context)
        }
        var request = WebSocketRequest(path: head.path, query: head.query, headers: head.headers,
                                       origin: valid.origin, remoteAddress: context.remoteAddress, wire: .rfc6455)
        request.secure = secure
        switch service.decide(request: request, offeredSubprotocols: valid.subprotocols) {
        case .reject(let rejection):
            return reject(rejection, reason: .serviceRefused, context: context)
        case .accept(let subprotocol):
            if let subprotocol, !valid.subprotocols.contains(subprotocol) {
                logger.error("service chose a subprotocol the client did not offer", metadata: ["subprotocol": "\(subprotocol)"])
                return reject(.init(status: 500, reasonPhrase: "Internal Server Error", detail: "subprotocol negotiation failed"),
                              reason: .serviceRefused, context: context)
            }
            request.subprotocol = subprotocol
            let deflate = route.compression.flatMap { PerMessageDeflate.accept(offers: valid.extensions, settings: $0) }
            request.compression = deflate?.parameters
            upgrade(request: request, handshake: valid, service: service, deflate: deflate,
                    tuning: route.compression?.tuning ?? .init(), context: context)
        }
    }

    private func upgrade(request: WebSocketRequest, handshake: ServerHandshake.Request, service: any WebSocketService,
                         deflate: (response: ExtensionOffer, parameters: PerMessageDeflate.Parameters)?,
                         tuning: PerMessageDeflate.Tuning, context: ChannelHandlerContext) {
        finished = true
        timeout?.cancel()
        let response = ServerHandshake.acceptResponse(for: handshake, subprotocol: request.subprotocol,
                                                      extensions: deflate.map { [$0.response] } ?? [])
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response)), promise: nil)
        var options = RFC6455ChannelHandler.Options(engine: configuration.engine, closeTimeout: configuration.closeTimeout)
        options.liveness = .init(pingInterval: configuration.pingInterval, pongTimeout: configuration.pongTimeout,
                                 idleTimeout: configuration.idleTimeout)
        options.maxSendQueueBytes = configuration.maxSendQueueBytes
        options.metrics = metrics?.service(path: request.path, protocol: "rfc6455")
        if let deflate {
            options.compression = PerMessageDeflateCodec(parameters: deflate.parameters, role: .server, tuning: tuning)
        }
        let frames = RFC6455ChannelHandler(role: .server, request: request, handler: service.makeHandler(),
                                           eventLoop: context.eventLoop, options: options, logger: logger)
        do {
            try context.pipeline.syncOperations.addHandler(frames, position: .after(self))
        } catch {
            logger.error("could not install the WebSocket handler", metadata: ["error": "\(error)"])
            context.close(promise: nil)
            return
        }
        upgraded?(frames)
        // Bytes that followed the head are the first frames.
        if buffer.readableBytes > 0 {
            context.fireChannelRead(wrapInboundOut(buffer))
        }
        buffer = ByteBuffer()
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// Answers a plain HTTP request with `resource` (GET and HEAD; other methods get 405) and closes.
    private func serve(_ resource: any HTTPResource, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == "GET" || head.method == "HEAD" else {
            var rejection = HandshakeRejection(status: 405, reasonPhrase: "Method Not Allowed",
                                               detail: "\(head.path) answers GET and HEAD")
            rejection.headers.add("Allow", "GET, HEAD")
            return reject(rejection, reason: nil, context: context)
        }
        finished = true
        timeout?.cancel()
        let response = resource.respond(to: head).serialized(includeBody: head.method == "GET")
        context.writeAndFlush(wrapOutboundOut(response)).whenComplete { _ in context.close(promise: nil) }
    }

    /// Refuses the request with `rejection` and closes; `reason` is the handshake-failure metric it counts
    /// as (nil for a plain HTTP request that was never a handshake).
    private func reject(_ rejection: HandshakeRejection, reason: GatewayMetrics.HandshakeFailure?, context: ChannelHandlerContext) {
        finished = true
        timeout?.cancel()
        if let reason { metrics?.handshakeFailed(reason) }
        logger.info("handshake refused", metadata: [
            "status": "\(rejection.status)", "detail": "\(rejection.detail)",
            "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
        ])
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: rejection.response))).whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
