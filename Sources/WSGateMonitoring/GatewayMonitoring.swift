import CoreMetrics
import NIOCore
import Prometheus
import WSGateMetrics

/// The gateway's observability in one place: the Prometheus registry behind `/metrics`, the `GatewayMetrics`
/// the listeners count into, and when the gateway started (the console shows its uptime).
///
/// The registry is explicit rather than only the global `MetricsSystem` so that several gateways (tests)
/// can live in one process; `wsgate serve` also bootstraps `MetricsSystem` with `factory`, so metrics other
/// libraries report through swift-metrics appear at `/metrics` too.
public final class GatewayMonitoring: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    public let metrics: GatewayMetrics
    public let startedAt: NIODeadline

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
        metrics = GatewayMetrics(factory: factory)
        startedAt = .now()
    }

    /// The `/metrics` resource.
    public var prometheusEndpoint: PrometheusEndpoint { PrometheusEndpoint(registry: registry) }
}
