import Logging
import NIOCore
import NIOPosix
import NIOSSL
import RTMPEngine
import WebSocketAPI
import WebSocketEngine

/// The WSR client (wsr.md): `wsr://host:port/path` (`wsr+ssl://` for TLS) becomes an HTTP create request to
/// `http(s)://host:port/path/;e/cr` and, with the `rtmp://` URL it answers, an RTMP connection to the same host and
/// port that becomes the WebSocket.
///
/// `rtmp://host[:port]/app/stream` (`rtmps://`) skips the create: it publishes `stream` in `app` on an ordinary RTMP
/// server (nginx-rtmp, …) and each message written goes up as a WSR data message (`WSRClientSession.Mode.publish`).
enum WSRClient {
    /// Whether `url` names a WSR endpoint or an RTMP server to publish to.
    static func isWSR(_ url: String) -> Bool {
        ["wsr://", "wsr+ssl://", "rtmp://", "rtmps://"].contains { url.lowercased().hasPrefix($0) }
    }

    private static func isPlainRTMP(_ url: String) -> Bool {
        url.lowercased().hasPrefix("rtmp://") || url.lowercased().hasPrefix("rtmps://")
    }

    /// The `ws`/`wss` URL with the same host, port and resource (RTMP's default ports made explicit).
    static func webSocketURL(_ url: String) throws -> WebSocketURL {
        let lower = url.lowercased()
        if isPlainRTMP(url) {
            let secure = lower.hasPrefix("rtmps://")
            var parsed = try WebSocketClient.parse((secure ? "wss://" : "ws://") + url.dropFirst(secure ? 8 : 7))
            let authority = url.dropFirst(secure ? 8 : 7).prefix { $0 != "/" && $0 != "?" }.split(separator: "@").last ?? ""
            let explicitPort = authority.contains(":") && !authority.hasSuffix("]")
            if !explicitPort { parsed.port = secure ? 443 : 1935 }
            return parsed
        }
        let rest = lower.hasPrefix("wsr+ssl://") ? "wss://" + url.dropFirst(10) : "ws://" + url.dropFirst(6)
        return try WebSocketClient.parse(rest)
    }

    static func connect(to url: WebSocketURL, original: String, configuration: WebSocketClientConfiguration,
                        handler: sending any WebSocketHandler, eventLoop: any EventLoop,
                        logger: Logger) -> EventLoopFuture<any WebSocketConnection> {
        // The handler belongs to `eventLoop` from here on (see `WebSocketClient.connect(to:configuration:handler:…)`).
        let handler = NIOLoopBoundBox.makeBoxSendingValue(handler, eventLoop: eventLoop)
        let (url, configuration) = configuration.placingCredential(in: url)
        if isPlainRTMP(original) {
            // rtmp://host:port/app/stream: the usual RTMP split (librtmp, ffmpeg): app = first path segment.
            let path = url.resourceName.dropFirst()
            let parts = path.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            let app = String(parts.first ?? "")
            let stream = parts.count > 1 && !parts[1].isEmpty ? String(parts[1]) : "s"
            let tcUrl = "\(url.secure ? "rtmps" : "rtmp")://\(url.hostHeader)/\(app)"
            let session = WSRClientSession(tcUrl: tcUrl, app: app, streamName: stream, mode: .publish)
            return openSession(url: url, session: session, subprotocol: nil, configuration: configuration, handler: handler,
                               eventLoop: eventLoop, logger: logger)
        }
        return create(url: url, configuration: configuration, eventLoop: eventLoop).flatMap { created in
            openSession(url: url, session: WSRClientSession(tcUrl: created.tcUrl), subprotocol: created.subprotocol,
                        configuration: configuration, handler: handler, eventLoop: eventLoop, logger: logger)
        }
    }

    /// The create request; succeeds with the session's URL and the subprotocol the server chose.
    static func create(url: WebSocketURL, configuration: WebSocketClientConfiguration,
                       eventLoop: any EventLoop) -> EventLoopFuture<(tcUrl: String, subprotocol: String?)> {
        let path = url.resourceName.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let base = path[0].hasSuffix("/") ? String(path[0].dropLast()) : String(path[0])
        var head = "POST \(base)/;e/cr\(path.count > 1 ? "?" + path[1] : "") HTTP/1.1\r\nHost: \(url.hostHeader)\r\n"
        head += "X-WebSocket-Version: wsr-1.0\r\n"
        if !configuration.subprotocols.isEmpty {
            head += "X-WebSocket-Protocol: \(configuration.subprotocols.joined(separator: ", "))\r\n"
        }
        if let origin = configuration.origin { head += "Origin: \(origin)\r\n" }
        for f in configuration.headers { head += "\(f.name): \(f.value)\r\n" }
        let request = head + "Content-Length: 0\r\nConnection: close\r\n\r\n"
        let done = eventLoop.makePromise(of: (tcUrl: String, subprotocol: String?).self)
        let limits = configuration.responseLimits
        bootstrap(url: url, configuration: configuration, eventLoop: eventLoop) {
            try $0.addHandler(WholeResponseHandler(done: done, limits: limits))
        }
            .whenComplete { result in
                switch result {
                case .success(let channel): channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
                case .failure(let error): done.fail(error)
                }
            }
        return done.futureResult
    }

    static func openSession(url: WebSocketURL, session: WSRClientSession, subprotocol: String?,
                            configuration: WebSocketClientConfiguration,
                            handler: NIOLoopBoundBox<any WebSocketHandler>, eventLoop: any EventLoop,
                            logger: Logger) -> EventLoopFuture<any WebSocketConnection> {
        let opened = eventLoop.makePromise(of: (any WebSocketConnection).self)
        let path = url.resourceName.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        var request = WebSocketRequest(path: path, origin: configuration.origin, wire: .wsr, subprotocol: subprotocol)
        request.secure = url.secure
        let closeTimeout = configuration.closeTimeout
        // On the channel's loop, which is `eventLoop`: where the handler lives.
        bootstrap(url: url, configuration: configuration, eventLoop: eventLoop) { [request] pipeline in
            try pipeline.addHandler(WSRClientHandler(session: session, request: request, handler: handler.value,
                                                     closeTimeout: closeTimeout, opened: opened, logger: logger))
        }
            .whenFailure { opened.fail($0) }
        return opened.futureResult
    }

    /// A TCP (or TLS) connection to the URL's host and port with `install` run on its pipeline.
    private static func bootstrap(url: WebSocketURL, configuration: WebSocketClientConfiguration, eventLoop: any EventLoop,
                                  install: @escaping @Sendable (ChannelPipeline.SynchronousOperations) throws -> Void)
        -> EventLoopFuture<any Channel> {
        let tls: NIOSSLContext?
        do {
            tls = url.secure ? try configuration.tls.makeContext() : nil
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let clientTLS = configuration.tls
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(configuration.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try clientTLS.makeHandler(context: tls, host: url.host)) }
                    try install(channel.pipeline.syncOperations)
                }
            }
            .connect(host: url.host, port: url.port)
    }
}

/// Reads one whole HTTP response (head and a Content-Length or close-delimited body) to a WSR create request.
final class WholeResponseHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var reader: ResponseHeadReader
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()
    private let done: EventLoopPromise<(tcUrl: String, subprotocol: String?)>
    private var finished = false

    init(done: EventLoopPromise<(tcUrl: String, subprotocol: String?)>, limits: HTTPHeadParser.Limits) {
        self.done = done
        self.reader = ResponseHeadReader(limits: limits)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if head == nil {
            switch reader.read(&input) {
            case .needMoreData: return
            case .failed(let e): return finish(.failure(WebSocketTransportError.handshakeFailed("bad create response: \(e)")), context)
            case .complete(let h):
                head = h
                var rest = reader.takeRemainder()
                body.writeBuffer(&rest)
            }
        } else {
            body.writeBuffer(&input)
        }
        guard body.readableBytes <= 8192 else { return finish(.failure(WebSocketTransportError.handshakeFailed("create response too long")), context) }
        if let length = head?.headers["Content-Length"].flatMap({ Int($0.trimmingOWS()) }), body.readableBytes >= length {
            complete(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if head != nil { complete(context) } else { finish(.failure(WebSocketTransportError.connectionEnded), context) }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(.failure(error), context)
    }

    private func complete(_ context: ChannelHandlerContext) {
        guard let head else { return }
        let text = String(buffer: body)
        guard head.status == 201, text.hasPrefix("rtmp://") || text.hasPrefix("rtmps://") else {
            return finish(.failure(WebSocketTransportError.handshakeFailed("WSR create answered \(head.status) \(head.reason): \(text)")), context)
        }
        finish(.success((text, head.headers["X-WebSocket-Protocol"])), context)
    }

    private func finish(_ result: Result<(tcUrl: String, subprotocol: String?), any Error>, _ context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        done.completeWith(result)
        context.close(promise: nil)
    }
}

/// Drives `WSRClientSession` on the RTMP connection, then hands it to the WebSocket channel handler.
final class WSRClientHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session: WSRClientSession
    private let request: WebSocketRequest
    private let handler: any WebSocketHandler
    private let closeTimeout: TimeAmount
    private let opened: EventLoopPromise<any WebSocketConnection>
    private let logger: Logger
    private var done = false

    init(session: WSRClientSession, request: WebSocketRequest, handler: any WebSocketHandler, closeTimeout: TimeAmount,
         opened: EventLoopPromise<any WebSocketConnection>, logger: Logger) {
        self.session = session
        self.request = request
        self.handler = handler
        self.closeTimeout = closeTimeout
        self.opened = opened
        self.logger = logger
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(session.start), promise: nil)
        context.fireChannelActive()
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { context.writeAndFlush(wrapOutboundOut(session.start), promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var input = unwrapInboundIn(data)
        for action in session.read(&input) {
            switch action {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            case .fail(let why):
                done = true
                opened.fail(WebSocketTransportError.handshakeFailed("WSR: \(why)"))
                context.close(promise: nil)
                return
            case .open:
                done = true
                var (connection, leftover) = session.makeConnection()
                leftover.writeBuffer(&input)
                let frames = WebSocketChannelHandler(engine: WSRWireEngine(connection: connection, role: .client), request: request,
                                                     handler: handler, eventLoop: context.eventLoop,
                                                     options: .init(closeTimeout: closeTimeout), logger: logger)
                do {
                    try frames.install(replacing: context, leftover: leftover) { opened.succeed($0) }
                } catch {
                    opened.fail(error)
                    context.close(promise: nil)
                }
                return
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
}
