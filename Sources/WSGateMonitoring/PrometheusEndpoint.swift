import NIOCore
import Prometheus
import WebSocketEngine
import WebSocketTransport

/// `GET /metrics`: the registry in the Prometheus text exposition format (version 0.0.4), which Prometheus,
/// VictoriaMetrics, the OpenTelemetry collector and `curl` all read.
public struct PrometheusEndpoint: HTTPResource {
    public let registry: PrometheusCollectorRegistry

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
    }

    public func respond(to request: HTTPRequestHead) -> HTTPResourceResponse {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(8192)
        registry.emit(into: &bytes)
        return .ok(contentType: "text/plain; version=0.0.4; charset=utf-8", body: ByteBuffer(bytes: bytes))
    }
}
