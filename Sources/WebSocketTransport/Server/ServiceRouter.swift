import WebSocketAPI
import WebSocketEngine

/// Maps request paths to the services mounted on them (exact match on the path, query ignored), with the
/// per-service transport settings that apply before a service sees a connection (compression, origins), and
/// to the plain HTTP resources served beside them (`/metrics`, the console page). A path may hold both: an
/// upgrade request goes to the service, any other request to the resource.
public struct ServiceRouter: Sendable {
    public struct Route: Sendable {
        /// The path the service is mounted on (what metrics label it with, whatever subpath was asked for).
        public var path: String
        public var service: any WebSocketService
        /// permessage-deflate policy for this path; nil declines every offer.
        public var compression: PerMessageDeflate.ServerSettings?
        /// Browser origins allowed on this path; others get `403` before the upgrade.
        public var origins: OriginPolicy
        /// Who may use the service; nil: anyone who reaches the port.
        public var access: AccessPolicy?
        /// Whether `path/…` reaches the service too (a TCP proxy choosing its backend by path segment).
        public var matchesSubpaths = false
        /// What each client may send; nil: no limit.
        public var rateLimit: InboundRateLimit?
    }

    private var routes: [String: Route] = [:]
    private var resources: [String: any HTTPResource] = [:]
    /// Paths whose routes match their subpaths.
    private var subpathRoutes: Set<String> = []

    public init() {}

    /// Mounts each service with the default compression policy.
    public init(_ mounts: [String: any WebSocketService]) {
        for (path, service) in mounts { mount(service, at: path) }
    }

    public mutating func mount(_ service: any WebSocketService, at path: String,
                               compression: PerMessageDeflate.ServerSettings? = .default, origins: OriginPolicy = .any,
                               access: AccessPolicy? = nil, matchingSubpaths: Bool = false, rateLimit: InboundRateLimit? = nil) {
        routes[path] = Route(path: path, service: service, compression: compression, origins: origins, access: access,
                             matchesSubpaths: matchingSubpaths, rateLimit: rateLimit)
        if matchingSubpaths { subpathRoutes.insert(path) }
    }

    /// Serves `resource` to plain HTTP requests (not upgrades) on `path`.
    public mutating func serve(_ resource: any HTTPResource, at path: String) {
        resources[path] = resource
    }

    public func resource(for path: String) -> (any HTTPResource)? {
        resources[path]
    }

    /// The route of `path`: its own, else the nearest enclosing one that matches subpaths.
    public func route(for path: String) -> Route? {
        if let exact = routes[path] { return exact }
        guard !subpathRoutes.isEmpty else { return nil }
        var prefix = Substring(path)
        while let slash = prefix.lastIndex(of: "/"), slash != prefix.startIndex {
            prefix = prefix[..<slash]
            if subpathRoutes.contains(String(prefix)) { return routes[String(prefix)] }
        }
        // "/" matching subpaths takes every path (`wsgate listen`).
        return subpathRoutes.contains("/") ? routes["/"] : nil
    }

    public func service(for path: String) -> (any WebSocketService)? {
        route(for: path)?.service
    }

    /// Paths with a WebSocket service.
    public var paths: [String] { routes.keys.sorted() }

    /// Paths with an HTTP resource.
    public var resourcePaths: [String] { resources.keys.sorted() }
}
