import WebSocketAPI
import WebSocketEngine

/// A TCP proxy's named backends and how a connection picks one — websockify's token plugins, without their
/// open door: the client names a backend, never a host, and a name outside the list gets `403`.
public struct TCPProxyTargets: Sendable, Hashable {
    public struct Backend: Sendable, Hashable {
        public var host: String
        public var port: Int
        public init(host: String, port: Int) {
            self.host = host
            self.port = port
        }
    }

    /// Where the backend's name comes from.
    public enum Selector: Sendable, Hashable {
        /// A claim of the connection's identity (the service needs `auth`), e.g. `target` in the JWT.
        case claim(String)
        /// The path segment after the service's path: `/vnc/desk1` names `desk1` (the service is mounted with
        /// its subpaths).
        case pathSegment
        /// A query parameter, e.g. websockify's `?token=desk1`.
        case query(String)
    }

    public var backends: [String: Backend]
    public var selector: Selector
    /// The path the service is mounted on (for `pathSegment`).
    public var mountPath: String

    public init(backends: [String: Backend], selector: Selector, mountPath: String) {
        self.backends = backends
        self.selector = selector
        self.mountPath = mountPath
    }

    /// The backend `request` names, or why it names none that is allowed (without echoing long input).
    public func backend(for request: WebSocketRequest) -> Result<Backend, TargetRefusal> {
        let name: String?
        switch selector {
        case .claim(let claim): name = request.identity?.claims[claim]?.string
        case .pathSegment:
            let rest = request.path.dropFirst(mountPath.count)
            name = rest.first == "/" ? String(rest.dropFirst()) : nil
        case .query(let parameter):
            // The credential reader's query parsing (a repeated or broken parameter names no backend).
            name = request.query.flatMap { try? HandshakeCredentials.queryToken(named: parameter, in: $0).0 }
        }
        guard let name, !name.isEmpty else { return .failure(TargetRefusal("no backend named (\(selector.description))")) }
        guard let backend = backends[name] else {
            let shown = name.count > 64 ? String(name.prefix(64)) + "…" : name
            return .failure(TargetRefusal("\(shown.debugDescription) is not one of this proxy's backends"))
        }
        return .success(backend)
    }

    public struct TargetRefusal: Error, Sendable, Hashable {
        public var reason: String
        init(_ reason: String) { self.reason = reason }
    }
}

extension TCPProxyTargets.Selector: CustomStringConvertible {
    public var description: String {
        switch self {
        case .claim(let name): return "claim \(name)"
        case .pathSegment: return "path segment"
        case .query(let name): return "query parameter \(name)"
        }
    }
}
