// swift-tools-version:6.2
import PackageDescription

// libFuzzer targets for the sans-IO parsers of `WebSocketEngine`; built and run by `bash Fuzz/run.sh`
// (see README.md).
//
// Build-time choices, measured on 2 cores (cold):
//  * The engine is compiled here from the main package's sources (Sources/WebSocketEngine and
//    Sources/CWebSocketSIMD are symlinks to ../../Sources/…) rather than taken from `.package(path: "..")`,
//    so that only the engine and the fuzz targets get `-sanitize=fuzzer,address` (unsafeFlags below) and SwiftNIO builds as in a
//    plain release build. Sanitizing every module from the command line took ~4.5 min.
//  * swift-crypto is the real package (the engine needs it for the Sec-WebSocket-Accept hash); BoringSSL
//    adds ~75 s to a cold build.
// Keep the dependencies in step with what the main package's WebSocketEngine target imports.
let sanitize: [String] = ["-sanitize=fuzzer,address"]
var dependencies: [Package.Dependency] = [
    .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
]
let cryptoDependency: Target.Dependency = .product(name: "Crypto", package: "swift-crypto")
var targets: [Target] = []

targets += [
    // The engine's C kernels (Sources/CWebSocketSIMD is a symlink too), with coverage and ASan like the engine.
    .target(name: "CWebSocketSIMD", cSettings: [.unsafeFlags(["-fsanitize=fuzzer-no-link,address"])]),
    // The system zlib for permessage-deflate (Sources/CZlib is a symlink too).
    .target(name: "CZlib", linkerSettings: [.linkedLibrary("z")]),
    .target(
        name: "WebSocketEngine",
        dependencies: ["CWebSocketSIMD", "CZlib", .product(name: "NIOCore", package: "swift-nio"), cryptoDependency],
        swiftSettings: [.unsafeFlags(sanitize)]
    ),
    // The MSRP engine (Sources/MSRPEngine is a symlink too).
    .target(
        name: "MSRPEngine",
        dependencies: [.product(name: "NIOCore", package: "swift-nio"), cryptoDependency],
        swiftSettings: [.unsafeFlags(sanitize)]
    ),
    // The RTMP engine (Sources/RTMPEngine is a symlink too).
    .target(
        name: "RTMPEngine",
        dependencies: [.product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: [.unsafeFlags(sanitize)]
    ),
    .target(name: "CFuzzerDriver"),
    .target(name: "FuzzSupport", dependencies: ["CFuzzerDriver", .product(name: "NIOCore", package: "swift-nio")]),
    .executableTarget(
        name: "FuzzFrames",
        dependencies: ["FuzzSupport", "WebSocketEngine", .product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    .executableTarget(
        name: "FuzzHandshake",
        dependencies: ["FuzzSupport", "WebSocketEngine"],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    .executableTarget(
        name: "FuzzUTF8",
        dependencies: ["FuzzSupport", "WebSocketEngine", "CWebSocketSIMD"],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    .executableTarget(
        name: "FuzzHixie",
        dependencies: ["FuzzSupport", "WebSocketEngine", .product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    .executableTarget(
        name: "FuzzMSRP",
        dependencies: ["FuzzSupport", "MSRPEngine", .product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    .executableTarget(
        name: "FuzzRTMP",
        dependencies: ["FuzzSupport", "RTMPEngine", .product(name: "NIOCore", package: "swift-nio")],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    // Reading a handshake's credential (header, query, cookie, Kubernetes subprotocol).
    .executableTarget(
        name: "FuzzCredentials",
        dependencies: ["FuzzSupport", "WebSocketEngine"],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
    .executableTarget(
        name: "FuzzURL",
        dependencies: ["FuzzSupport", "WebSocketEngine"],
        swiftSettings: [.unsafeFlags(sanitize)],
        linkerSettings: [.unsafeFlags(sanitize)]
    ),
]

// As in the main package: warnings are errors when scripts/test.sh (CI) asks, for these targets only.
if Context.environment["WSGATE_WARNINGS_AS_ERRORS"] == "1" {
    for target in targets {
        target.swiftSettings = (target.swiftSettings ?? []) + [.treatAllWarnings(as: .error)]
        target.cSettings = (target.cSettings ?? []) + [.treatAllWarnings(as: .error)]
    }
}

let package = Package(name: "wsgate-fuzz", dependencies: dependencies, targets: targets)
