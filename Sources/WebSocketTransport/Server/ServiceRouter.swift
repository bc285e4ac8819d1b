import WebSocketAPI

/// Maps request paths to the services mounted on them (exact match on the path, query ignored).
public struct ServiceRouter: Sendable {
    private var services: [String: any WebSocketService] = [:]

    public init() {}

    public init(_ mounts: [String: any WebSocketService]) {
        services = mounts
    }

    public mutating func mount(_ service: any WebSocketService, at path: String) {
        services[path] = service
    }

    public func service(for path: String) -> (any WebSocketService)? {
        services[path]
    }

    public var paths: [String] { services.keys.sorted() }
}
