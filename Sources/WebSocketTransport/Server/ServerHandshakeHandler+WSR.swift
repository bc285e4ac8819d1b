import NIOCore
import RTMPEngine
import WebSocketAPI
import WebSocketEngine

/// WebSocket over RTMP (wsr.md): every WebSocket path also answers the create request `<path>/;e/cr` with the
/// `rtmp://` URL of a new session, and the same port takes the RTMP connection that follows (first byte 0x03).
extension ServerHandshakeHandler {
    static let wsrCreateSuffix = "/;e/cr"

    /// `POST <path>/;e/cr` (any method): `X-WebSocket-Version: wsr-1.0` required (else 501), then the one
    /// handshake decision (origin, access control, the service, the subprotocol rule) with the subprotocols of
    /// `X-WebSocket-Protocol`; `201` with the session's URL, body only. The session keeps the decided request, so
    /// the RTMP connection inherits the create's identity, and its URL carries the query without the credential.
    func routeWSRCreate(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        let base = String(head.path.dropLast(Self.wsrCreateSuffix.count))
        let path = base.isEmpty ? "/" : base
        guard let route = router.route(for: path), let sessions = wsrSessions else {
            return reject(.notFound(head.path), reason: .notFound, context: context)
        }
        if refusedByHandshakeRate(context: context) { return }
        guard head.headers["X-WebSocket-Version"]?.trimmingOWS() == "wsr-1.0" else {
            return reject(.init(status: 501, reasonPhrase: "Not Implemented", detail: "WSR create needs X-WebSocket-Version: wsr-1.0"),
                          reason: .invalidHandshake, context: context)
        }
        guard let host = head.headers["Host"], !host.isEmpty else {
            return reject(.badRequest("a WSR create needs Host"), reason: .invalidHandshake, context: context)
        }
        let candidate = candidate(for: head, path: path, wire: .wsr, origin: head.headers["Origin"],
                                  offering: head.headers.commaSeparated("X-WebSocket-Protocol"), context: context)
        guard let request = decide(candidate, route: route, context: context) else { return }
        var generator = SystemRandomNumberGenerator()
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)
        let id = String(decoding: (0..<32).map { _ in alphabet.randomElement(using: &generator)! }, as: UTF8.self)
        // The advertised address, else the Host header with the port made explicit (wsr.md §1.2).
        let authority = configuration.wsrAdvertisedAddress
            ?? (host.contains(":") && !host.hasSuffix("]") ? host : host + (secure ? ":443" : ":80"))
        let url = (secure ? "rtmps://" : "rtmp://") + authority + base + "/" + id + (request.query.map { "?" + $0 } ?? "")
        sessions.register(tcUrl: url, route: route, request: request)
        var fields = HTTPFields([("Content-Type", "text/plain")])
        if let subprotocol = request.subprotocol { fields.add("X-WebSocket-Protocol", subprotocol) }
        serve(HTTPResourceResponse(status: 201, reason: "Created", headers: fields, body: ByteBuffer(string: url)), context: context)
    }

    /// The connection speaks RTMP: the WSR session handler takes over.
    func switchToRTMP(_ first: ByteBuffer, context: ChannelHandlerContext) {
        guard let sessions = wsrSessions else { return }
        markFinished()
        let wsr = WSRSessionHandler(sessions: sessions, logger: logger) { [self] session, pending, wsrContext in
            self.startWSR(session, pending: pending, context: wsrContext)
        }
        do {
            try context.pipeline.syncOperations.addHandler(wsr, position: .after(self))
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(first))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    /// The session opened: the WebSocket channel handler replaces the session handler (`context` is its).
    func startWSR(_ session: WSRServerSession, pending: WSRSessions.Pending, context: ChannelHandlerContext) {
        var session = session
        // Messages up to the listener's maximum from now on (a little more: the WSR envelope around the payload).
        let messageLimit = configuration.engine.maxMessageSize + 64
        let (connection, leftover) = session.makeConnection(limits: .init(maxMessageLength: messageLimit))
        // The WebSocket's peer is the RTMP connection (the create may have come from elsewhere, e.g. a proxy).
        var request = pending.request
        request.remoteAddress = context.remoteAddress
        install(engine: WSRWireEngine(connection: connection), request: request, service: pending.route.service,
                leftover: leftover, context: context)
    }
}
