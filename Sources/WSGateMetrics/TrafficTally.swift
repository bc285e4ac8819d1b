/// A connection's traffic not yet reported to its `ServiceMetrics`: plain integers on the connection's event
/// loop, handed over in one `record` per read batch or flush.
package struct TrafficTally {
    package init() {}

    package var messagesReceived = 0
    package var bytesReceived = 0
    package var messagesSent = 0
    package var bytesSent = 0

    package var isEmpty: Bool { messagesReceived == 0 && messagesSent == 0 }

    package mutating func received(bytes: Int) {
        messagesReceived += 1
        bytesReceived += bytes
    }

    package mutating func sent(bytes: Int) {
        messagesSent += 1
        bytesSent += bytes
    }
}
