import CoreMetrics
import NIOConcurrencyHelpers
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
    /// This node's part in a cluster, for the console (set when the gateway runs a backplane).
    private let clusterStatus = NIOLockedValueBox<(@Sendable () -> ClusterSummary)?>(nil)

    public init() {
        registry = PrometheusCollectorRegistry()
        factory = PrometheusMetricsFactory(registry: registry)
        metrics = GatewayMetrics(factory: factory)
        startedAt = .now()
    }

    /// Where the console reads the node's id and the backplane's state from.
    public func reportCluster(_ status: @escaping @Sendable () -> ClusterSummary) {
        clusterStatus.withLockedValue { $0 = status }
    }

    var cluster: ClusterSummary? { clusterStatus.withLockedValue { $0 }?() }

    /// The `/metrics` resource.
    public var prometheusEndpoint: PrometheusEndpoint { PrometheusEndpoint(registry: registry) }
}

/// What the console shows of this node's part in a cluster.
public struct ClusterSummary: Sendable, Encodable, Equatable {
    public var node: String
    /// `connected`, `connecting` (or cut off: local clients still served).
    public var state: String
    /// The backplane's URL without its password.
    public var url: String
    public var published: Int
    public var received: Int
    public var queued: Int
    public var gaps: Int
    public var lagSeconds: Double

    public init(node: String, state: String, url: String, published: Int, received: Int, queued: Int, gaps: Int,
                lagSeconds: Double) {
        self.node = node
        self.state = state
        self.url = url
        self.published = published
        self.received = received
        self.queued = queued
        self.gaps = gaps
        self.lagSeconds = lagSeconds
    }
}
