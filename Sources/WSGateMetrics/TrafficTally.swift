/// A connection's traffic not yet reported to its `ServiceMetrics`: plain integers on the connection's event
/// loop, handed over in one `record` per read batch or flush. Inlinable: it is counted on the echo path, in
/// another module, once per message.
@frozen
package struct TrafficTally {
    @inlinable package init() {}

    package var messagesReceived = 0
    package var bytesReceived = 0
    package var messagesSent = 0
    package var bytesSent = 0

    @inlinable package var isEmpty: Bool { messagesReceived == 0 && messagesSent == 0 }

    @inlinable package mutating func received(bytes: Int) {
        messagesReceived += 1
        bytesReceived += bytes
    }

    @inlinable package mutating func sent(bytes: Int) {
        messagesSent += 1
        bytesSent += bytes
    }
}
