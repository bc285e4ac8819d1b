import NIOCore
import WebSocketAPI
import WebSocketEngine

/// The one decision every wire's opening handshake goes through, after the wire has parsed its request: an
/// RFC 6455 upgrade, a hixie-75/76 upgrade and a WSR create alike. No I/O: it takes the request in wire-neutral
/// words and the route, and returns the request the service will see, or the refusal with its HTTP status and
/// the metrics reason. Nothing wire-specific happens after it but the wire's own response.
///
/// The steps, in order, once the router found the path's service (else `404`): the path's origin policy (`403`)
/// → its access policy, when it has one (`AccessPolicy`: `400`/`401`/`403`; the query and the subprotocol
/// offer lose the credential, the request gains the identity) → the service's own `decide` (its refusal as it
/// gave it) → the subprotocol rule.
///
/// **The subprotocol rule** (the same on every wire): the service chooses at most one subprotocol, and only one
/// the client offered. Choosing none is allowed even when the client offered some (RFC 6455 §4.2.2: the server
/// may select none; the client then decides whether to go on, and browsers do not). Choosing one the client did
/// not offer is the service's bug, refused with `500` — before this rule, a WSR create answered that with `404`
/// and refused a create whose offer the service declined.
enum HandshakeDecision {
    /// What any wire's parsed request says, in the words the decision needs.
    struct Candidate {
        var wire: WebSocketWire
        /// The path of the service (for a WSR create, without its `/;e/cr`).
        var path: String
        var query: String?
        var headers: HTTPFields
        var origin: String?
        /// The subprotocols the client offered, in its order of preference.
        var offeredSubprotocols: [String]
        var remoteAddress: SocketAddress?
        var secure: Bool
        /// The TLS client certificate the listener verified, if the client gave one.
        var clientCertificate: ClientCertificate? = nil
        /// When the handshake arrived, in seconds since 1970 (what `exp` and `nbf` are checked against).
        var receivedAt: Double = 0
    }

    enum Verdict {
        /// Open the WebSocket: `request` is what the service sees (its `subprotocol` chosen).
        case accept(WebSocketRequest)
        case reject(HandshakeRejection, reason: GatewayMetrics.HandshakeFailure)
    }

    static func decide(_ candidate: Candidate, route: ServiceRouter.Route) -> Verdict {
        guard route.origins.allows(candidate.origin) else {
            return .reject(.forbidden("origin \(candidate.origin ?? "") is not allowed on \(candidate.path)"), reason: .originDenied)
        }
        var request = WebSocketRequest(path: candidate.path, query: candidate.query, headers: candidate.headers,
                                       origin: candidate.origin, remoteAddress: candidate.remoteAddress, wire: candidate.wire)
        request.secure = candidate.secure
        var offered = candidate.offeredSubprotocols
        if let access = route.access {
            switch access.evaluate(headers: candidate.headers, query: candidate.query, offeredSubprotocols: offered,
                                   clientCertificate: candidate.clientCertificate, now: candidate.receivedAt) {
            case .admitted(let identity, let query, let remaining):
                request.identity = identity
                request.query = query
                offered = remaining
            case .badRequest(let why):
                var rejection = HandshakeRejection.badRequest(why)
                rejection.headers.add("WWW-Authenticate", access.challenge(error: "invalid_request", description: why))
                return .reject(rejection, reason: .unauthenticated)
            case .unauthenticated(let why):
                let rejection = HandshakeRejection(status: 401, reasonPhrase: "Unauthorized", detail: why, headers: HTTPFields([
                    ("WWW-Authenticate", access.challenge(error: "invalid_token", description: why)),
                ]))
                return .reject(rejection, reason: .unauthenticated)
            case .forbidden(let why, _):
                var rejection = HandshakeRejection.forbidden(why)
                rejection.headers.add("WWW-Authenticate", access.challenge(error: "insufficient_scope", description: why))
                return .reject(rejection, reason: .forbidden)
            }
        }
        switch route.service.decide(request: request, offeredSubprotocols: offered) {
        case .reject(let rejection):
            return .reject(rejection, reason: .serviceRefused)
        case .accept(let subprotocol):
            if let subprotocol, !offered.contains(subprotocol) {
                return .reject(.init(status: 500, reasonPhrase: "Internal Server Error",
                                     detail: "the service chose subprotocol \(subprotocol), which the client did not offer"),
                               reason: .serviceRefused)
            }
            request.subprotocol = subprotocol
            return .accept(request)
        }
    }
}
