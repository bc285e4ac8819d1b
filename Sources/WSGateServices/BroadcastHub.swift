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
            Self.run(on: group.eventLoop) {
                for member in members { member.send(prepared) }
            }
        }
    }

    /// Sends messages, in order, each to every subscriber of its topic, with one hop per loop for all of them:
    /// what another node's page brought (dozens of messages at a time) costs each loop one task and one flush
    /// per connection, not one per message (`perf` on the three-node benchmark: the per-message hops were the
    /// largest cost of a node after the backplane's batching).
    func publish(_ batch: [(message: WebSocketMessage, topic: BroadcastTopicName)]) {
        guard !batch.isEmpty else { return }
        let wanted = Set(batch.map(\.topic))
        let snapshot = topics.withLockedValue { topics in wanted.compactMap { t in topics[t].map { (t, Array($0.values)) } } }
        guard !snapshot.isEmpty else { return }
        let groupsByTopic = Dictionary(uniqueKeysWithValues: snapshot)
        var work: [ObjectIdentifier: (loop: any EventLoop, sends: [(PreparedMessage, [any WebSocketConnection])])] = [:]
        for (message, topic) in batch {
            guard let groups = groupsByTopic[topic] else { continue }
            let prepared = PreparedMessage(message)
            for group in groups {
                work[ObjectIdentifier(group.eventLoop), default: (group.eventLoop, [])].sends
                    .append((prepared, Array(group.members.values)))
            }
        }
        for (loop, sends) in work.values {
            Self.run(on: loop) {
                for (prepared, members) in sends {
                    for member in members { member.send(prepared) }
                }
            }
        }
    }

    private static func run(on loop: any EventLoop, _ body: @escaping @Sendable () -> Void) {
        if loop.inEventLoop { body() } else { loop.execute(body) }
    }
}
