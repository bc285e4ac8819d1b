#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging
import NIOCore
import NIOSSL
import RTMPEngine
import WebSocketAPI
import WebSocketEngine

/// The first handler of every accepted connection: reads the HTTP request head, routes it, and either
/// answers with an HTTP error or an HTTP resource, or upgrades — to RFC 6455, or to hixie-75/76 (see
/// `ServerHandshakeHandler+Hixie.swift`) — replacing itself with the wire's frame handler.
final class ServerHandshakeHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let router: ServiceRouter
    let configuration: ServerConfiguration
    let logger: Logger
    let metrics: GatewayMetrics?
    private var parser: HTTPHeadParser
    /// Bytes read and not yet consumed by the handshake.
    var buffer = ByteBuffer()
    private var finished = false
    private var timeout: Scheduled<Void>?
    /// A hixie-76 handshake accepted but for its 8-byte key3, which may arrive in a later segment.
    var awaitingKey3: HixieUpgrade?
    /// WSR sessions created over HTTP and awaiting their RTMP connection; nil: no WSR on this listener.
    let wsrSessions: WSRSessions?
    /// Whether the connection runs over TLS (set by `TLSSniffer` before the first byte arrives here).
    var secure = false
    /// Told the WebSocket a successful upgrade made (the listener's connection tracker).
    var upgraded: ((any WebSocketConnection) -> Void)?

    init(router: ServiceRouter, configuration: ServerConfiguration, metrics: GatewayMetrics?, logger: Logger,
         wsrSessions: WSRSessions? = nil) {
        self.router = router
        self.configuration = configuration
        self.metrics = metrics
        self.logger = logger
        self.wsrSessions = wsrSessions
        self.parser = HTTPHeadParser(limits: configuration.handshakeLimits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        timeout = context.eventLoop.assumeIsolated().scheduleTask(in: configuration.handshakeTimeout) { [logger, metrics] in
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
        if buffer.readableBytes == 0, awaitingKey3 == nil, wsrSessions != nil,
           incoming.getInteger(at: incoming.readerIndex, as: UInt8.self) == RTMPHandshake.version {
            return switchToRTMP(incoming, context: context)
        }
        if buffer.readableBytes == 0, awaitingKey3 == nil, let first = incoming.getInteger(at: incoming.readerIndex, as: UInt8.self),
           !Self.canBeginHTTPRequest(first) {
            // Neither HTTP nor RTMP: refused at once rather than held until the handshake timeout.
            let detail = first == 0x06 || first == 0x08
                ? "RTMPE (encrypted RTMP, version byte \(first)) is not supported: use rtmp:// or rtmps://"
                : "not an HTTP request (first byte 0x\(String(first, radix: 16)))"
            return reject(.badRequest(detail), reason: .invalidHandshake, context: context)
        }
        buffer.writeBuffer(&incoming)
        if let pending = awaitingKey3 { return completeHixie76(pending, context: context) }
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

    /// An error before the upgrade — in practice a failed TLS handshake (a client certificate from another CA
    /// or expired, a protocol mismatch): logged with its reason and counted, and the connection closed.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard !finished else { return context.fireErrorCaught(error) }
        markFinished()
        let tls = error is NIOSSLError || error is NIOSSLExtraError
        metrics?.handshakeFailed(tls ? .tlsFailed : .malformedRequest)
        logger.info(tls ? "TLS handshake failed" : "connection failed before the handshake", metadata: [
            "error": "\(error)", "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
        ])
        context.close(promise: nil)
    }

    /// Whether the listener's per-address handshake limit refused this handshake (answered `429`). Only
    /// handshakes count (upgrades, WSR creates): `/metrics` and the console are not rate-limited.
    func refusedByHandshakeRate(context: ChannelHandlerContext) -> Bool {
        guard let limiter = configuration.handshakeRateLimiter, let wait = limiter.admit(context.remoteAddress) else { return false }
        var rejection = HandshakeRejection(status: 429, reasonPhrase: "Too Many Requests",
                                           detail: "more than \(limiter.perSecond) handshakes a second from this address")
        rejection.headers.add("Retry-After", String(max(1, (wait.nanoseconds + 999_999_999) / 1_000_000_000)))
        reject(rejection, reason: .rateLimited, context: context)
        return true
    }

    private func route(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        if wsrSessions != nil, head.path.hasSuffix(Self.wsrCreateSuffix) { return routeWSRCreate(head, context: context) }
        let route = router.route(for: head.path)
        guard ServerHandshake.isUpgradeRequest(head) else {
            if let resource = router.resource(for: head.path) {
                serve(resource, to: head, context: context)
            } else if route == nil {
                reject(.notFound(head.path), reason: .notFound, context: context)
            } else {
                reject(.upgradeRequired("\(head.path) is a WebSocket endpoint"), reason: .upgradeRequired, context: context)
            }
            return
        }
        guard let route else { return reject(.notFound(head.path), reason: .notFound, context: context) }
        if refusedByHandshakeRate(context: context) { return }
        if let draft = HixieServerHandshake.draft(of: head) {
            return routeHixie(head, draft: draft, route: route, context: context)
        }
        let valid: ServerHandshake.Request
        switch ServerHandshake.validate(head) {
        case .failure(let rejection): return reject(rejection, reason: .invalidHandshake, context: context)
        case .success(let request): valid = request
        }
        let candidate = candidate(for: head, wire: .rfc6455, origin: valid.origin, offering: valid.subprotocols, context: context)
        guard var request = decide(candidate, route: route, context: context) else { return }
        let deflate = route.compression.flatMap { PerMessageDeflate.accept(offers: valid.extensions, settings: $0) }
        request.compression = deflate?.parameters
        upgrade(request: request, handshake: valid, service: route.service, deflate: deflate,
                tuning: route.compression?.tuning ?? .init(), context: context)
    }

    /// A parsed request of any wire in the words of the one handshake decision.
    func candidate(for head: HTTPRequestHead, path: String? = nil, wire: WebSocketWire, origin: String?,
                   offering subprotocols: [String], context: ChannelHandlerContext) -> HandshakeDecision.Candidate {
        HandshakeDecision.Candidate(wire: wire, path: path ?? head.path, query: head.query, headers: head.headers,
                                    origin: origin, offeredSubprotocols: subprotocols,
                                    remoteAddress: context.remoteAddress, secure: secure)
    }

    /// Runs the one handshake decision (`HandshakeDecision`); the request the service sees, or nil when the
    /// connection was refused.
    func decide(_ candidate: HandshakeDecision.Candidate, route: ServiceRouter.Route,
                context: ChannelHandlerContext) -> WebSocketRequest? {
        var candidate = candidate
        if route.access != nil {
            candidate.receivedAt = Date().timeIntervalSince1970
            if secure { candidate.clientCertificate = peerCertificate(context: context) }
        }
        switch HandshakeDecision.decide(candidate, route: route) {
        case .accept(let request):
            if let identity = request.identity {
                metrics?.accessDecided(path: route.path, result: .admitted)
                logger.debug("authenticated", metadata: [
                    "path": "\(request.path)", "method": "\(identity.method)", "subject": "\(identity.subject)",
                    "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                ])
            }
            return request
        case .reject(let rejection, let reason):
            switch reason {
            case .unauthenticated: metrics?.accessDecided(path: route.path, result: .unauthenticated)
            case .forbidden: metrics?.accessDecided(path: route.path, result: .forbidden)
            default: break
            }
            reject(rejection, reason: reason, context: context)
            return nil
        }
    }

    /// The certificate the client presented in the TLS handshake (verified by the listener), if any.
    private func peerCertificate(context: ChannelHandlerContext) -> ClientCertificate? {
        guard let tls = try? context.pipeline.syncOperations.handler(type: NIOSSLHandler.self),
              let certificate = tls.peerCertificate, let der = try? certificate.toDERBytes() else { return nil }
        return ClientCertificate(der: der)
    }

    private func upgrade(request: WebSocketRequest, handshake: ServerHandshake.Request, service: any WebSocketService,
                         deflate: (response: ExtensionOffer, parameters: PerMessageDeflate.Parameters)?,
                         tuning: PerMessageDeflate.Tuning, context: ChannelHandlerContext) {
        let response = ServerHandshake.acceptResponse(for: handshake, subprotocol: request.subprotocol,
                                                      extensions: deflate.map { [$0.response] } ?? [])
        let codec = deflate.map { PerMessageDeflateCodec(parameters: $0.parameters, role: .server, tuning: tuning) }
        if codec != nil { applyCompressedReadBudget(context: context) }
        let engine = RFC6455Connection(role: .server, configuration: configuration.engine, compression: codec)
        startWebSocket(engine: engine, response: ByteBuffer(string: response), request: request, service: service, context: context)
    }

    /// A connection that will inflate what it reads gets the listener's smaller read budget.
    private func applyCompressedReadBudget(context: ChannelHandlerContext) {
        let share = configuration.compressedReadShare
        guard share != configuration.readShare else { return }
        do {
            try share.apply(to: context.channel)
        } catch {
            logger.debug("could not set the compressed read budget", metadata: ["error": "\(error)"])
        }
    }

    /// Sends the handshake response and hands the connection to `engine` under a channel handler configured
    /// from the listener's settings; bytes that followed the handshake are its first frames.
    func startWebSocket<Engine: WebSocketWireEngine>(engine: Engine, response: ByteBuffer, request: WebSocketRequest,
                                                     service: any WebSocketService, context: ChannelHandlerContext) {
        markFinished()
        context.writeAndFlush(wrapOutboundOut(response), promise: nil)
        let leftover = buffer
        buffer = ByteBuffer()
        install(engine: engine, request: request, service: service, leftover: leftover, context: context)
    }

    /// Hands the connection to `engine` in place of the handler at `context` (this one, or the WSR session
    /// handler), configured from the listener's settings.
    func install<Engine: WebSocketWireEngine>(engine: Engine, request: WebSocketRequest, service: any WebSocketService,
                                              leftover: ByteBuffer, context: ChannelHandlerContext) {
        let route = router.route(for: request.path)
        var options: WebSocketChannelHandler<Engine>.Options = channelOptions(path: route?.path ?? request.path, wire: engine.wire)
        options.rateLimit = route?.rateLimit
        let frames = WebSocketChannelHandler(engine: engine, request: request, handler: service.makeHandler(),
                                             eventLoop: context.eventLoop, options: options, logger: logger)
        do {
            try frames.install(replacing: context, leftover: leftover) { upgraded?($0) }
        } catch {
            logger.error("could not install the WebSocket handler", metadata: ["error": "\(error)"])
            context.close(promise: nil)
        }
    }

    /// Whether `byte` can begin an HTTP request: a method's token character (RFC 9110 §5.6.2), or the empty line
    /// RFC 9112 §2.2 lets a client send before it.
    static func canBeginHTTPRequest(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return httpTokenPunctuation.contains(byte)
        }
    }

    private static let httpTokenPunctuation = Array("!#$%&'*+-.^_`|~\r\n".utf8)

    /// The listener's settings as a WebSocket channel handler's options.
    func channelOptions<Engine: WebSocketWireEngine>(path: String, wire: WebSocketWire) -> WebSocketChannelHandler<Engine>.Options {
        var options = WebSocketChannelHandler<Engine>.Options(closeTimeout: configuration.closeTimeout)
        options.liveness = .init(pingInterval: configuration.pingInterval, pongTimeout: configuration.pongTimeout,
                                 idleTimeout: configuration.idleTimeout)
        options.maxSendQueueBytes = configuration.maxSendQueueBytes
        options.metrics = metrics?.service(path: path, protocol: wire.rawValue)
        return options
    }

    /// Answers a plain HTTP request with `resource` (GET and HEAD; other methods get 405) and closes.
    private func serve(_ resource: any HTTPResource, to head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.method == "GET" || head.method == "HEAD" else {
            var rejection = HandshakeRejection(status: 405, reasonPhrase: "Method Not Allowed",
                                               detail: "\(head.path) answers GET and HEAD")
            rejection.headers.add("Allow", "GET, HEAD")
            return reject(rejection, reason: nil, context: context)
        }
        serve(resource.respond(to: head), includeBody: head.method == "GET", context: context)
    }

    /// Sends a complete HTTP response and closes.
    func serve(_ response: HTTPResourceResponse, includeBody: Bool = true, context: ChannelHandlerContext) {
        markFinished()
        context.writeAndFlush(wrapOutboundOut(response.serialized(includeBody: includeBody))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    /// The handshake is over (answered, or handed to another handler): no more reading, no timeout.
    func markFinished() {
        finished = true
        timeout?.cancel()
    }

    /// Refuses the request with `rejection` and closes; `reason` is the handshake-failure metric it counts
    /// as (nil for a plain HTTP request that was never a handshake).
    func reject(_ rejection: HandshakeRejection, reason: GatewayMetrics.HandshakeFailure?, context: ChannelHandlerContext) {
        markFinished()
        if let reason { metrics?.handshakeFailed(reason) }
        // A 5xx is the gateway's or a service's fault, not the client's: worth an operator's attention.
        logger.log(level: rejection.status >= 500 ? .error : .info, "handshake refused", metadata: [
            "status": "\(rejection.status)", "detail": "\(rejection.detail)",
            "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
        ])
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: rejection.response))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }
}
