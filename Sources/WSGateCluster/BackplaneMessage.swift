import NIOCore
import WebSocketAPI

/// One broadcast on its way between gateways: which service (its path) and topic, and the message.
public struct BackplaneMessage: Sendable, Equatable {
    public var service: String
    public var topic: String
    public var message: WebSocketMessage

    public init(service: String, topic: String, message: WebSocketMessage) {
        self.service = service
        self.topic = topic
        self.message = message
    }

    /// What it costs to hold, for the outbox's bound.
    var size: Int { message.data.readableBytes + service.utf8.count + topic.utf8.count }
}

/// A row of the backplane table as a node reads it back.
public struct BackplaneRow: Sendable, Equatable {
    /// The table's sequence: every node reads rows in this order.
    public var id: Int64
    /// The node that published it, the process (a random number per start) and its number in that process's
    /// publish order: a batch written twice (a retry after a lost reply) is recognised and delivered once.
    public var origin: String
    public var incarnation: Int64
    public var seq: Int64
    public var message: BackplaneMessage
    /// When PostgreSQL stored it (seconds since 1970), for the lag.
    public var storedAt: Double

    public init(id: Int64, origin: String, incarnation: Int64, seq: Int64, message: BackplaneMessage, storedAt: Double) {
        self.id = id
        self.origin = origin
        self.incarnation = incarnation
        self.seq = seq
        self.message = message
        self.storedAt = storedAt
    }
}
