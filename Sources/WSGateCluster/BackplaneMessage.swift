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

/// A row of the backplane table as a node reads it back: one batch a node wrote, its messages still encoded
/// (`BackplaneBatchCodec`), so a node's own batches and repeats are skipped before anything is decoded.
public struct BackplaneBatch: Sendable, Equatable {
    /// The table's sequence: every node reads batches in this order.
    public var id: Int64
    /// The node that published it, the process (a random number per start) and the number of the batch's first
    /// message in that process's publish order (the others follow, one apart): a batch written twice (a retry
    /// after a lost reply) is recognised and delivered once.
    public var origin: String
    public var incarnation: Int64
    public var firstSeq: Int64
    public var count: Int64
    /// Messages stored ever, through this batch: what a gap is counted in.
    public var messagesThrough: Int64
    public var body: ByteBuffer
    /// When PostgreSQL stored it (seconds since 1970), for the lag.
    public var storedAt: Double

    public init(id: Int64, origin: String, incarnation: Int64, firstSeq: Int64, count: Int64, messagesThrough: Int64,
                body: ByteBuffer, storedAt: Double) {
        self.id = id
        self.origin = origin
        self.incarnation = incarnation
        self.firstSeq = firstSeq
        self.count = count
        self.messagesThrough = messagesThrough
        self.body = body
        self.storedAt = storedAt
    }

    /// The number of its last message.
    var lastSeq: Int64 { firstSeq + count - 1 }
}
