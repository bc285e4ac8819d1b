import WebSocketAPI

/// How a broadcast service is used: one topic or many, and who may publish and who may subscribe.
public struct BroadcastSettings: Sendable {
    /// Named topics below the service's path (`/broadcast/{topic}`); nil: one topic, the path itself.
    public var topics: TopicLimits?
    /// Who may send messages to the topic (the others are closed 1008 if they try).
    public var publish: BroadcastPermission
    /// Who receives the topic's messages.
    public var subscribe: BroadcastPermission

    public init(topics: TopicLimits? = nil, publish: BroadcastPermission = .anyone, subscribe: BroadcastPermission = .anyone) {
        self.topics = topics
        self.publish = publish
        self.subscribe = subscribe
    }

    /// Bounds on named topics: a client names them, so their number and length are the gateway's to cap.
    public struct TopicLimits: Sendable, Hashable {
        /// Topics with members at once; a connection that would open one more is refused `503`.
        public var maxTopics: Int
        /// Longest topic name, in bytes.
        public var maxNameLength: Int

        public init(maxTopics: Int = 10_000, maxNameLength: Int = 128) {
            self.maxTopics = maxTopics
            self.maxNameLength = maxNameLength
        }

        public static let `default` = TopicLimits()
    }
}

/// Who may do something on a broadcast service.
public enum BroadcastPermission: Sendable {
    case anyone
    case nobody
    /// Clients whose handshake identity passes the check (the service has access control); an anonymous client
    /// never does.
    case identity(@Sendable (WebSocketIdentity) -> Bool)

    public func grants(_ identity: WebSocketIdentity?) -> Bool {
        switch self {
        case .anyone: return true
        case .nobody: return false
        case .identity(let check): return identity.map(check) ?? false
        }
    }
}
