import NIOCore
import WebSocketAPI
import WebSocketEngine

/// A hixie upgrade the service accepted, waiting (hixie-76) for the 8 bytes of key3.
struct HixieUpgrade {
    var handshake: HixieServerHandshake.Request
    var request: WebSocketRequest
    var service: any WebSocketService
}

/// hixie-75/76 on the same port and paths as RFC 6455: the request is told apart by its headers
/// (`HixieServerHandshake.draft(of:)`), checked, put to the path's origin policy and service like any other,
/// and answered exactly as its draft says. hixie-76's key3 follows the head — in the same segment or a later
/// one, with or without `Content-Length: 8` — and the handshake timeout keeps running while it is awaited.
extension ServerHandshakeHandler {
    func routeHixie(_ head: HTTPRequestHead, draft: HixieDraft, route: ServiceRouter.Route, context: ChannelHandlerContext) {
        let handshake: HixieServerHandshake.Request
        switch HixieServerHandshake.validate(head, draft: draft) {
        case .failure(let rejection): return reject(rejection, reason: .invalidHandshake, context: context)
        case .success(let valid): handshake = valid
        }
        let offered = handshake.subprotocol.map { [$0] } ?? []
        let candidate = candidate(for: head, wire: WebSocketWire(draft), origin: handshake.origin, offering: offered,
                                  context: context)
        guard let request = decide(candidate, route: route, context: context) else { return }
        let upgrade = HixieUpgrade(handshake: handshake, request: request, service: route.service)
        if draft == .hixie76 {
            completeHixie76(upgrade, context: context)
        } else {
            startHixie(upgrade, key3: nil, context: context)
        }
    }

    /// Upgrades once key3 is here; until then the upgrade waits in `awaitingKey3`.
    func completeHixie76(_ upgrade: HixieUpgrade, context: ChannelHandlerContext) {
        guard let key3 = buffer.readBytes(length: HixieServerHandshake.key3Length) else {
            awaitingKey3 = upgrade
            return
        }
        awaitingKey3 = nil
        startHixie(upgrade, key3: key3, context: context)
    }

    private func startHixie(_ upgrade: HixieUpgrade, key3: [UInt8]?, context: ChannelHandlerContext) {
        let response = HixieServerHandshake.response(for: upgrade.handshake, secure: secure,
                                                     subprotocol: upgrade.request.subprotocol, key3: key3)
        let engine = HixieConnection(draft: upgrade.handshake.draft, role: .server,
                                     configuration: .init(maxMessageSize: configuration.engine.maxMessageSize))
        startWebSocket(engine: engine, response: response, request: upgrade.request, service: upgrade.service, context: context)
    }
}
