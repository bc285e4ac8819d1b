import NIOConcurrencyHelpers
import NIOCore
import WebSocketAPI

/// Sends every message to every connection on the service's path, the sender included.
///
/// A message is encoded once (`PreparedMessage`) and the same bytes are written to every recipient.
/// Members are grouped by event loop so a message costs one thread hop per loop, not one per recipient.
public final class BroadcastService: WebSocketService {
    let hub = BroadcastHub()

    public init() {}

    public func makeHandler() -> any WebSocketHandler { BroadcastHandler(hub: hub) }

    /// How many connections are currently joined.
    public var memberCount: Int { hub.memberCount }
}

final class BroadcastHub: Sendable {
    private struct LoopGroup {
        let eventLoop: any EventLoop
        var members: [ObjectIdentifier: any WebSocketConnection] = [:]
    }

    private let groups = NIOLockedValueBox<[ObjectIdentifier: LoopGroup]>([:])

    var memberCount: Int { groups.withLockedValue { $0.values.reduce(0) { $0 + $1.members.count } } }

    func join(_ connection: any WebSocketConnection) {
        let loopID = ObjectIdentifier(connection.eventLoop)
        groups.withLockedValue { groups in
            groups[loopID, default: LoopGroup(eventLoop: connection.eventLoop)].members[ObjectIdentifier(connection)] = connection
        }
    }

    func leave(_ connection: any WebSocketConnection) {
        let loopID = ObjectIdentifier(connection.eventLoop)
        groups.withLockedValue { groups in
            groups[loopID]?.members[ObjectIdentifier(connection)] = nil
            if groups[loopID]?.members.isEmpty == true { groups[loopID] = nil }
        }
    }

    func publish(_ message: WebSocketMessage) {
        let prepared = PreparedMessage(message)
        let snapshot = groups.withLockedValue { Array($0.values) }
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

final class BroadcastHandler: WebSocketHandler {
    private let hub: BroadcastHub

    init(hub: BroadcastHub) { self.hub = hub }

    func connectionDidOpen(_ connection: any WebSocketConnection) { hub.join(connection) }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        hub.publish(message)
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) { hub.leave(connection) }
}
