import NIOConcurrencyHelpers
import NIOCore
import WebSocketAPI

/// The subscribers of a broadcast service's topics, grouped by event loop so that a message costs one thread
/// hop per loop, not one per subscriber, and is encoded once (`PreparedMessage`) for all of them.
final class BroadcastHub: Sendable {
    private struct LoopGroup {
        let eventLoop: any EventLoop
        var members: [ObjectIdentifier: any WebSocketConnection] = [:]
    }

    /// Topic → its subscribers' loop groups; a topic without subscribers is not kept.
    private let topics = NIOLockedValueBox<[BroadcastTopicName: [ObjectIdentifier: LoopGroup]]>([:])
    let maxTopics: Int

    init(maxTopics: Int) { self.maxTopics = maxTopics }

    var memberCount: Int {
        topics.withLockedValue { $0.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.members.count } } }
    }

    var topicCount: Int { topics.withLockedValue { $0.count } }

    /// Whether a subscriber to `topic` could join now (the topic exists, or there is room for one more).
    func hasRoom(for topic: BroadcastTopicName) -> Bool {
        topics.withLockedValue { $0[topic] != nil || $0.count < maxTopics }
    }

    /// Adds a subscriber; false (nothing added) when the topic is new and the topic limit is reached.
    func join(_ connection: any WebSocketConnection, topic: BroadcastTopicName) -> Bool {
        let loopID = ObjectIdentifier(connection.eventLoop)
        return topics.withLockedValue { topics in
            if topics[topic] == nil, topics.count >= maxTopics { return false }
            topics[topic, default: [:]][loopID, default: LoopGroup(eventLoop: connection.eventLoop)]
                .members[ObjectIdentifier(connection)] = connection
            return true
        }
    }

    func leave(_ connection: any WebSocketConnection, topic: BroadcastTopicName) {
        let loopID = ObjectIdentifier(connection.eventLoop)
        topics.withLockedValue { topics in
            topics[topic]?[loopID]?.members[ObjectIdentifier(connection)] = nil
            if topics[topic]?[loopID]?.members.isEmpty == true { topics[topic]?[loopID] = nil }
            if topics[topic]?.isEmpty == true { topics[topic] = nil }
        }
    }

    /// Sends `message` to every subscriber of `topic`, each loop's members from their own loop.
    func publish(_ message: WebSocketMessage, topic: BroadcastTopicName) {
        let snapshot = topics.withLockedValue { $0[topic].map { Array($0.values) } } ?? []
        guard !snapshot.isEmpty else { return }
        let prepared = PreparedMessage(message)
        for group in snapshot {
            let members = Array(group.members.values)
            if group.eventLoop.inEventLoop {
                for member in members { member.send(prepared) }
            } else {
                group.eventLoop.execute {
                    for member in members { member.send(prepared) }
                }
            }
        }
    }
}
