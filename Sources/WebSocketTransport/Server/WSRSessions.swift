import NIOConcurrencyHelpers
import NIOCore
import WebSocketAPI

/// WSR sessions created over HTTP (`<path>/;e/cr`, wsr.md §1) and waiting for their RTMP `connect`: by the
/// `rtmp://` URL the create answered with, which the client must send back as `tcUrl` within `deadline`.
/// `package`: the listener's own bookkeeping, reachable from its tests (which register sessions by hand) only.
package final class WSRSessions: Sendable {
    struct Pending: Sendable {
        var route: ServiceRouter.Route
        var request: WebSocketRequest
        var expires: NIODeadline
    }

    private let pending = NIOLockedValueBox<[String: Pending]>([:])
    package let deadline: TimeAmount

    package init(deadline: TimeAmount = .seconds(60)) {
        self.deadline = deadline
    }

    /// Registers a session for `tcUrl` (also how tests replay recorded bytes that carry a fixed tcUrl).
    package func register(tcUrl: String, route: ServiceRouter.Route, request: WebSocketRequest) {
        let now = NIODeadline.now()
        pending.withLockedValue { all in
            all = all.filter { $0.value.expires > now }
            all[tcUrl] = Pending(route: route, request: request, expires: now + deadline)
        }
    }

    /// Takes the session for `tcUrl` (a session is used once: the first RTMP `connect` with its URL claims it).
    func take(_ tcUrl: String) -> Pending? {
        let now = NIODeadline.now()
        return pending.withLockedValue { all in
            guard let p = all.removeValue(forKey: tcUrl), p.expires > now else { return nil }
            return p
        }
    }
}
