import MSRPEngine
import NIOCore

/// One connection of the relay — a WebSocket client's, a TCP client's, or an outbound connection to a next
/// hop — as the relay sees it: somewhere chunks go.
protocol MSRPLeg: AnyObject, Sendable {
    var id: MSRPRelay.ConnectionID { get }
    /// The largest serialized chunk this leg carries in one piece (a WebSocket leg's message limit); nil: any.
    var maxChunkBytes: Int? { get }
    func send(_ chunk: MSRPChunk)
    func close()
}
