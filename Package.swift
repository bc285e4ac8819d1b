// swift-tools-version:6.2
import PackageDescription

/// Module layout mirrors the layers of DESIGN.md:
///  1. `WebSocketEngine`    — sans-IO protocol engines (imports NIOCore for ByteBuffer only).
///  2. `WebSocketTransport` — SwiftNIO listeners and connectors that drive the engines.
///  3. `WebSocketAPI`       — the one WebSocket abstraction services are written against.
///  4. `WSGateServices`     — echo, broadcast, …; `WSGateMonitoring` — `/metrics` and the web console.
///  5. `wsgate`             — the command-line program; `WSGateBench` is its load generator.
/// `WSGateMetrics` holds what the listeners count (`GatewayMetrics`, `ServiceMetrics`): the transport counts into
/// it and monitoring reads it, so it sits beside both rather than inside the transport (which re-exports it).
/// `TestCaptures` (recorded peer bytes, one copy) and `WebSocketAPITestSupport` (a
/// `WebSocketConnection` without a socket) serve the test targets and are in no product.
/// `WSGateAuth` holds the access-control methods (JWT through vapor/jwt-kit, API keys, client certificates); the
/// transport's `AccessPolicy` decides where in the handshake they run, so the transport does not import jwt-kit.
/// `CWebSocketSIMD` holds the engine's C kernels (SIMD UTF-8 validation), which Swift's SIMD types cannot express.
/// `CZlib` exposes the system zlib (zlib1g-dev) to the engine for permessage-deflate: zlib is the field's DEFLATE,
/// and driving it directly lets the engine cap inflated output and reuse streams without a wrapper's copies.
let package = Package(
    name: "wsgate",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "WebSocketEngine", targets: ["WebSocketEngine"]),
        .library(name: "MSRPEngine", targets: ["MSRPEngine"]),
        .library(name: "RTMPEngine", targets: ["RTMPEngine"]),
        .library(name: "WebSocketAPI", targets: ["WebSocketAPI"]),
        .library(name: "WebSocketTransport", targets: ["WebSocketTransport"]),
        .library(name: "WSGateMetrics", targets: ["WSGateMetrics"]),
        .library(name: "WSGateServices", targets: ["WSGateServices"]),
        .library(name: "WSGateMonitoring", targets: ["WSGateMonitoring"]),
        .library(name: "WSGateMSRP", targets: ["WSGateMSRP"]),
        .library(name: "WSGateAuth", targets: ["WSGateAuth"]),
        .library(name: "WSGateCluster", targets: ["WSGateCluster"]),
        .executable(name: "wsgate", targets: ["wsgate"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/ordo-one/malloc-interposer.git", from: "1.6.1"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        // X.509 parsing for the `mtls` method; already built for jwt-kit, so it adds no build time.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        // The cluster backplane's PostgreSQL client (LISTEN/NOTIFY built in); swift-collections comes with it.
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-collections.git", from: "1.6.0"),
        // The exec service's processes (pipes, signals, reaping): the ecosystem's process library.
        .package(url: "https://github.com/swiftlang/swift-subprocess.git", from: "1.0.2"),
        // FilePath for it (swift-subprocess builds it anyway).
        .package(url: "https://github.com/apple/swift-system.git", from: "1.5.0"),
    ],
    targets: [
        .target(name: "CWebSocketSIMD"),
        .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
        .target(
            name: "WebSocketEngine",
            dependencies: [
                "CWebSocketSIMD",
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "RTMPEngine",
            dependencies: [.product(name: "NIOCore", package: "swift-nio")]
        ),
        .target(
            name: "MSRPEngine",
            dependencies: [
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .target(
            name: "WebSocketAPI",
            dependencies: [
                "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WSGateMetrics",
            dependencies: [
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WebSocketTransport",
            dependencies: [
                "WebSocketEngine",
                "WebSocketAPI",
                "RTMPEngine",
                "WSGateMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .target(
            name: "WSGateServices",
            dependencies: [
                "WebSocketAPI",
                "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Several gateways as one: the broadcast backplane on PostgreSQL (sans-IO outbox and inbox, the I/O beside).
        .target(
            name: "WSGateCluster",
            dependencies: [
                "WebSocketAPI",
                "WebSocketEngine",
                "WSGateServices",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "DequeModule", package: "swift-collections"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
            ]
        ),
        .target(
            name: "WSGateMSRP",
            dependencies: [
                "MSRPEngine",
                "WebSocketEngine",
                "WebSocketAPI",
                "WebSocketTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // The access-control methods (JWT through jwt-kit, API keys, client certificates) behind the transport's
        // `HandshakeAuthenticator`: the transport decides where authentication happens, this module how.
        .target(
            name: "WSGateAuth",
            dependencies: [
                "WebSocketEngine",
                "WebSocketAPI",
                "WebSocketTransport",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .target(
            name: "WSGateMonitoring",
            dependencies: [
                "WebSocketEngine",
                "WebSocketAPI",
                "WebSocketTransport",
                "WSGateMetrics",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "CoreMetrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            resources: [.embedInCode("Resources/console.html")]
        ),
        .target(
            name: "WSGateConfig",
            dependencies: [
                "WSGateExec",
                "WebSocketEngine",
                "WebSocketAPI",
                "WebSocketTransport",
                "WSGateServices",
                "WSGateMonitoring",
                "WSGateMSRP",
                "WSGateAuth",
                "WSGateCluster",
                "MSRPEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Yams", package: "Yams"),
            ]
        ),
        .target(
            name: "WSGateBench",
            dependencies: [
                "MSRPEngine",
                "WebSocketEngine",
                "WebSocketAPI",
                "WebSocketTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ]
        ),
        // What `wsgate connect` decides — `ConnectSession`, a state machine of stdin, messages, pings, reconnects
        // and exit statuses — and how it formats lines, apart from the command that does the I/O, so tests drive it.
        // The exec service (websocketd): a program per connection, its stdin and stdout bridged to messages.
        .target(
            name: "WSGateExec",
            dependencies: [
                "WebSocketAPI",
                "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Subprocess", package: "swift-subprocess"),
                .product(name: "SystemPackage", package: "swift-system"),
            ]
        ),
        .target(
            name: "WSGateConnect",
            dependencies: ["WebSocketEngine", "WebSocketAPI", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .executableTarget(
            name: "wsgate",
            dependencies: [
                "WSGateConnect",
                "WSGateExec",
                "WebSocketEngine",
                "WebSocketAPI",
                "WebSocketTransport",
                "WSGateServices",
                "WSGateBench",
                "WSGateConfig",
                "WSGateMonitoring",
                "WSGateMSRP",
                "WSGateAuth",
                "WSGateCluster",
                "MSRPEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        .executableTarget(
            name: "wsgate-microbench",
            dependencies: [
                "WebSocketEngine",
                "WebSocketTransport",
                "WSGateServices",
                "WSGateMonitoring",
                "WSGateBench",
                "WebSocketAPI",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "MallocInterposerSwift", package: "malloc-interposer"),
            ],
            path: "Sources/WSGateMicrobench"
        ),
        .testTarget(
            name: "WebSocketEngineTests",
            dependencies: ["WebSocketEngine", "CWebSocketSIMD", .product(name: "NIOCore", package: "swift-nio")]
        ),
        // Test support: the recorded peer bytes, one copy for every target that replays them, and a
        // `WebSocketConnection` without a socket for testing services and the async face.
        .target(
            name: "TestCaptures",
            path: "Tests/TestCaptures",
            resources: [.copy("wsr-flash11-after-handshake.bin")]
        ),
        .target(
            name: "WebSocketAPITestSupport",
            dependencies: [
                "WebSocketAPI",
                "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ],
            path: "Tests/WebSocketAPITestSupport"
        ),
        .testTarget(
            name: "RTMPEngineTests",
            dependencies: ["RTMPEngine", "TestCaptures", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "MSRPEngineTests",
            dependencies: ["MSRPEngine", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WebSocketAPITests",
            dependencies: [
                "WebSocketAPI", "WebSocketAPITestSupport", "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WSGateServicesTests",
            dependencies: [
                "WSGateServices", "WebSocketAPI", "WebSocketAPITestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WSGateMetricsTests",
            dependencies: ["WSGateMetrics", .product(name: "CoreMetrics", package: "swift-metrics")]
        ),
        .testTarget(
            name: "WSGateMonitoringTests",
            dependencies: [
                "WSGateMonitoring", "WSGateMetrics", "WebSocketAPI", "WebSocketAPITestSupport", "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WSGateMSRPTests",
            dependencies: [
                "WSGateMSRP", "MSRPEngine", "WebSocketAPI", "WebSocketEngine",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            ]
        ),
        .testTarget(
            name: "WSGateAuthTests",
            dependencies: ["WSGateAuth", "WebSocketAPI", "WebSocketEngine", "WebSocketTransport"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "WSGateClusterTests",
            dependencies: ["WSGateCluster", "WSGateServices", "WebSocketAPI", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WSGateExecTests",
            dependencies: ["WSGateExec", "WebSocketAPI", "WebSocketEngine", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WSGateConnectTests",
            dependencies: ["WSGateConnect", "WebSocketEngine", "WebSocketAPI", .product(name: "NIOCore", package: "swift-nio")]
        ),
        .testTarget(
            name: "WSGateConfigTests",
            dependencies: ["WSGateConfig", "WebSocketEngine", "WebSocketAPI", "WSGateServices"]
        ),
        .testTarget(
            name: "WebSocketTransportTests",
            dependencies: [
                "WebSocketEngine", "WebSocketAPI", "WebSocketTransport", "WSGateServices", "WSGateMonitoring", "RTMPEngine",
                "TestCaptures",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)

/// Warnings are errors in the project's own builds, so a new one fails CI instead of hiding the next: `scripts/test.sh`
/// (the test command CI runs) sets `WSGATE_WARNINGS_AS_ERRORS=1`. Opt-in through the environment, not always on,
/// because a package that depends on wsgate would inherit the setting: Xcode and the swiftbuild build system compile
/// dependencies with `-suppress-warnings`, which the driver refuses beside `-warnings-as-errors` (WasmKit#469 and
/// swift-async-queue#70 met this; SwiftPM issue 10192). Only this package's targets get it, not its dependencies.
if Context.environment["WSGATE_WARNINGS_AS_ERRORS"] == "1" {
    for target in package.targets {
        target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
        target.cSettings = (target.cSettings ?? []) + [.treatAllWarnings(as: .error)]
    }
}
