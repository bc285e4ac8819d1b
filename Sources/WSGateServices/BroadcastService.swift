import Logging
import NIOCore
import WebSocketAPI

/// Sends every message a publisher sends to every subscriber of its topic, the sender included when it
/// subscribes too (the default: everyone does both).
///
/// With `settings.topics`, the path below the service's names the topic (`/broadcast/news`); the service's own
/// path is the unnamed topic, so a service that gains topics keeps its old clients. A message is encoded once
/// (`PreparedMessage`) and the same bytes are written to every subscriber (see `BroadcastHub`).
public final class BroadcastService: WebSocketService {
    public let settings: BroadcastSettings
    /// The path the service is mounted on (topics are named below it).
    public let mountPath: String
    let hub: BroadcastHub
    let logger: Logger
    /// The other gateways, when there is a backplane: what local clients publish goes there as well.
    let fanOut: (any BroadcastFanOut)?

    public init(settings: BroadcastSettings = BroadcastSettings(), mountPath: String = "/",
                fanOut: (any BroadcastFanOut)? = nil, logger: Logger = Logger(label: "wsgate.broadcast")) {
        self.settings = settings
        self.mountPath = mountPath
        self.fanOut = fanOut
        self.logger = logger
        hub = BroadcastHub(maxTopics: settings.topics?.maxTopics ?? 1)
    }

    /// A topic name outside the rules → 400; a client that may neither publish nor subscribe → 403; a new topic
    /// past the limit → 503.
    public func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
        let topic: BroadcastTopicName
        switch self.topic(of: request) {
        case .success(let named): topic = named
        case .failure(let invalid): return .reject(.badRequest(invalid.description))
        }
        let mayPublish = settings.publish.grants(request.identity)
        let maySubscribe = settings.subscribe.grants(request.identity)
        if !mayPublish, !maySubscribe {
            return .reject(.forbidden("this client may neither publish nor subscribe here"))
        }
        if maySubscribe, !hub.hasRoom(for: topic) {
            return .reject(.serviceUnavailable("the limit of \(hub.maxTopics) topics is reached"))
        }
        return .accept(subprotocol: nil)
    }

    public func makeHandler() -> any WebSocketHandler { BroadcastHandler(service: self) }

    /// The topic `request` names; without named topics, always the service's own.
    func topic(of request: WebSocketRequest) -> Result<BroadcastTopicName, BroadcastTopicName.Invalid> {
        guard let limits = settings.topics else { return .success(BroadcastTopicName.unnamed) }
        return BroadcastTopicName.parse(path: request.path, mountPath: mountPath == "/" ? "" : mountPath, limits: limits)
    }

    /// Messages other gateways' clients published, in their order, to this node's subscribers of each one's topic
    /// (each encoded once here, one hop per event loop for all of them).
    public func deliverFromCluster(_ batch: [(message: WebSocketMessage, topic: BroadcastTopicName)]) {
        hub.publish(batch)
    }

    /// A local client's message: to the local subscribers, then to the other gateways.
    func publish(_ message: WebSocketMessage, topic: BroadcastTopicName) {
        hub.publish(message, topic: topic)
        fanOut?.published(message, service: mountPath, topic: topic)
    }

    /// Subscribers joined now, over all topics.
    public var memberCount: Int { hub.memberCount }

    /// Topics that have subscribers now.
    public var topicCount: Int { hub.topicCount }
}

/// One connection's part: it subscribes at open if it may, publishes what it sends if it may, and is closed
/// 1008 if it sends without being allowed to (a message it sent is never dropped unseen).
/// Not `Sendable`: its state is the connection's event loop's, and nothing takes it elsewhere.
final class BroadcastHandler: WebSocketHandler {
    private let service: BroadcastService
    private var topic = BroadcastTopicName.unnamed
    private var mayPublish = false
    private var subscribed = false

    init(service: BroadcastService) { self.service = service }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        // `decide` accepted the path, so it names a topic.
        guard case .success(let named) = service.topic(of: connection.request) else {
            return connection.close(code: .internalServerError, reason: "no topic")
        }
        topic = named
        mayPublish = service.settings.publish.grants(connection.request.identity)
        guard service.settings.subscribe.grants(connection.request.identity) else { return }
        subscribed = service.hub.join(connection, topic: topic)
        if !subscribed {
            // Another connection opened the last free topic between the handshake and now.
            connection.close(code: .tryAgainLater, reason: "topic limit reached")
        }
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        guard mayPublish else {
            service.logger.info("closing a subscriber that published", metadata: [
                "path": "\(connection.request.path)", "subject": "\(connection.request.identity?.subject ?? "-")",
            ])
            return connection.close(code: .policyViolation, reason: "this connection may not publish here")
        }
        service.publish(message, topic: topic)
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        if subscribed { service.hub.leave(connection, topic: topic) }
        subscribed = false
    }
}
