/// The listeners count into `GatewayMetrics`, and `WebSocketServer.start(…, metrics:)` takes one, so a program
/// that imports the transport sees the metrics types without importing their module as well. Re-exported here,
/// once, rather than imported in every file that counts.
@_exported import WSGateMetrics
