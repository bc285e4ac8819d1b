import CoreMetrics
import NIOConcurrencyHelpers

/// What the gateway counts about its connections, reported two ways from one place:
/// - through swift-metrics, so whatever backend the program bootstrapped sees them (`wsgate serve` exports
///   them as Prometheus text at `/metrics`);
/// - as plain totals readable in-process (`snapshot()`), which the web console shows live — swift-metrics
///   handles are write-only, so the gateway keeps its own copy of the few figures it displays.
///
/// One instance is shared by every listener of a gateway. Connections report their traffic in batches (once
/// per read batch or write flush, see `TrafficTally`), never per frame, so counting costs a lock and a few
/// atomic adds per batch rather than per message.
///
/// Metric names and labels (Prometheus conventions; every name always carries the same label set):
/// - `wsgate_tcp_connections` gauge: connections the listeners hold, handshaking or open.
/// - `wsgate_handshakes_total{protocol,service}`: upgrades completed.
/// - `wsgate_handshake_failures_total{reason}`: connections refused before the upgrade, by `HandshakeFailure`.
/// - `wsgate_connections{protocol,service}` gauge: open WebSockets.
/// - `wsgate_messages_received_total`, `wsgate_messages_sent_total`, `wsgate_received_bytes_total`,
///   `wsgate_sent_bytes_total` `{protocol,service}`: data messages and their payload bytes.
/// - `wsgate_closes_total{protocol,service,code,initiator}`: how connections ended; `initiator` is `peer` or
///   `gateway`, `code` the close code (1006 when the TCP connection ended without a close handshake).
/// - `wsgate_send_queue_drops_total{protocol,service}`: clients disconnected for not reading (1008).
/// - `wsgate_rate_limit_throttles_total{protocol,service}`: times a client was held back by its service's rate
///   limit (the close at its hard ceiling is a `wsgate_closes_total` with code 1008).
/// - `wsgate_access_total{service,result}`: handshakes a service's access control decided, `result` being
///   `admitted`, `unauthenticated` or `forbidden` (services without `auth` count nothing here).
public final class GatewayMetrics: Sendable {
    /// What a service's access control made of a handshake.
    public enum AccessResult: String, Sendable, CaseIterable, Codable {
        case admitted
        case unauthenticated
        case forbidden
    }

    /// Why a connection never became a WebSocket.
    public enum HandshakeFailure: String, Sendable, CaseIterable {
        /// The request head could not be parsed or was too large.
        case malformedRequest = "malformed_request"
        /// A well-formed request that is not a valid opening handshake (missing key, wrong version, …).
        case invalidHandshake = "invalid_handshake"
        /// No service (or HTTP resource) on the path.
        case notFound = "not_found"
        /// A plain HTTP request to a WebSocket endpoint.
        case upgradeRequired = "upgrade_required"
        /// The Origin is not allowed on the path.
        case originDenied = "origin_denied"
        /// The service declined the request (its own `decide`).
        case serviceRefused = "service_refused"
        /// The service's access control found no credential that proves an identity (`400`/`401`).
        case unauthenticated
        /// Authenticated, but not allowed on the service (`403`).
        case forbidden
        /// The handshake did not complete in time (slowloris).
        case timeout
        /// Over the listener's total or per-address connection limit.
        case connectionLimit = "connection_limit"
        /// A plain request on a TLS-only port.
        case plaintextOnTLS = "plaintext_on_tls"
        /// Over the listener's handshakes per second per address (`429`).
        case rateLimited = "rate_limited"
        /// The TLS handshake failed (e.g. a client certificate the listener's client CAs do not vouch for).
        case tlsFailed = "tls_failed"
    }

    private let factory: any MetricsFactory
    private let failures: [HandshakeFailure: Counter]
    private let failureTotals = NIOLockedValueBox<[HandshakeFailure: Int]>([:])
    private let tcpConnections: Meter
    private let tcpTotal = NIOLockedValueBox(0)
    private let services = NIOLockedValueBox<[ServiceMetrics.Key: ServiceMetrics]>([:])
    private let access = NIOLockedValueBox<[AccessKey: (counter: Counter, total: Int)]>([:])

    private struct AccessKey: Hashable {
        var path: String
        var result: AccessResult
    }

    /// - Parameter factory: where the figures go; by default the process-wide `MetricsSystem` backend (a no-op
    ///   until the program bootstraps one).
    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        // Created up front so every reason is exported (as 0) before it first happens.
        var failures: [HandshakeFailure: Counter] = [:]
        for reason in HandshakeFailure.allCases {
            failures[reason] = Counter(label: "wsgate_handshake_failures_total", dimensions: [("reason", reason.rawValue)],
                                       factory: factory)
        }
        self.failures = failures
        self.tcpConnections = Meter(label: "wsgate_tcp_connections", factory: factory)
    }

    /// The figures of one service reached over one protocol, created on first use.
    public func service(path: String, protocol wire: String) -> ServiceMetrics {
        let key = ServiceMetrics.Key(path: path, protocol: wire)
        return services.withLockedValue { all in
            if let existing = all[key] { return existing }
            let made = ServiceMetrics(key: key, factory: factory)
            all[key] = made
            return made
        }
    }

    public func handshakeFailed(_ reason: HandshakeFailure) {
        failures[reason]?.increment()
        failureTotals.withLockedValue { $0[reason, default: 0] += 1 }
    }

    /// Counts one access-control decision on the service at `path`.
    public func accessDecided(path: String, result: AccessResult) {
        let counter = access.withLockedValue { all in
            let key = AccessKey(path: path, result: result)
            var entry = all[key] ?? (Counter(label: "wsgate_access_total", dimensions: [("service", path), ("result", result.rawValue)],
                                             factory: factory), 0)
            entry.total += 1
            all[key] = entry
            return entry.counter
        }
        counter.increment()
    }

    package func tcpConnectionOpened() {
        tcpConnections.increment()
        tcpTotal.withLockedValue { $0 += 1 }
    }

    package func tcpConnectionClosed() {
        tcpConnections.decrement()
        tcpTotal.withLockedValue { $0 -= 1 }
    }

    /// The gateway's figures now, for display.
    public func snapshot() -> Snapshot {
        let services = self.services.withLockedValue { Array($0.values) }
            .map { $0.totals }
            .sorted { ($0.path, $0.protocol) < ($1.path, $1.protocol) }
        return Snapshot(tcpConnections: tcpTotal.withLockedValue { $0 },
                        handshakeFailures: Dictionary(uniqueKeysWithValues: failureTotals.withLockedValue { $0 }
                            .map { ($0.key.rawValue, $0.value) }),
                        services: services,
                        access: access.withLockedValue { all in
                            var out: [String: [String: Int]] = [:]
                            for (key, entry) in all { out[key.path, default: [:]][key.result.rawValue] = entry.total }
                            return out
                        })
    }

    public struct Snapshot: Sendable, Equatable, Codable {
        public var tcpConnections: Int
        /// Refusals so far by `HandshakeFailure` raw value (reasons that never happened are absent).
        public var handshakeFailures: [String: Int]
        /// Per service and protocol, sorted by path.
        public var services: [ServiceMetrics.Totals]
        /// Access-control decisions by service path, then by `AccessResult` raw value (absent when none).
        public var access: [String: [String: Int]] = [:]
    }
}
