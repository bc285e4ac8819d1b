import WebSocketAPI

/// Where a broadcast service hands what its local clients publish, so that other gateways' subscribers get it too
/// (the cluster backplane). The service has delivered the message to its own subscribers already; what comes back
/// from other nodes enters through `BroadcastService.deliverFromCluster`.
public protocol BroadcastFanOut: Sendable {
    func published(_ message: WebSocketMessage, service: String, topic: BroadcastTopicName)
}
