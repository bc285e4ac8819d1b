import Foundation
import NIOCore
import WebSocketAPI
import WSGateMetrics

/// The console's live feed: a WebSocket that sends the gateway's figures as one JSON text message when it
/// opens and then every `interval`. Rates (messages per second) are left to the page, which divides the
/// difference of two updates by the difference of their `time`, so every viewer sees exact figures
/// whatever its own update rate.
///
/// An update: `{"time": seconds since 1970, "uptime": seconds, "snapshot": GatewayMetrics.Snapshot,
/// "mounted": [paths of the WebSocket services], "cluster": ClusterSummary (with a backplane)}`.
public struct ConsoleLiveService: WebSocketService {
    let monitoring: GatewayMonitoring
    let mounted: [String]
    let interval: TimeAmount

    public init(monitoring: GatewayMonitoring, mounted: [String], interval: TimeAmount = .seconds(1)) {
        self.monitoring = monitoring
        self.mounted = mounted
        self.interval = interval
    }

    public func makeHandler() -> any WebSocketHandler {
        ConsoleLiveHandler(service: self)
    }

    struct Update: Encodable {
        var time: Double
        var uptime: Double
        var snapshot: GatewayMetrics.Snapshot
        var mounted: [String]
        var cluster: ClusterSummary?
    }

    func update() -> String {
        let update = Update(time: Date().timeIntervalSince1970,
                            uptime: Double((NIODeadline.now() - monitoring.startedAt).nanoseconds) / 1e9,
                            snapshot: monitoring.metrics.snapshot(), mounted: mounted, cluster: monitoring.cluster)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        // Encoding plain numbers, strings and arrays cannot fail.
        return (try? encoder.encode(update)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// One viewer: a repeating timer on the connection's event loop, cancelled when it closes.
final class ConsoleLiveHandler: WebSocketHandler {
    private let service: ConsoleLiveService
    private var timer: RepeatedTask?

    init(service: ConsoleLiveService) {
        self.service = service
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        let service = self.service
        timer = connection.eventLoop.scheduleRepeatedTask(initialDelay: .zero, delay: service.interval) { _ in
            connection.send(text: service.update())
        }
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        // The feed only speaks; what a viewer sends is ignored.
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        timer?.cancel()
        timer = nil
    }
}
