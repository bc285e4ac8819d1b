import ArgumentParser
import Foundation
import MSRPEngine
import NIOCore
import WSGateBench
import WebSocketEngine
import WebSocketTransport

/// `wsgate bench`: the load generator.
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Drive a WebSocket echo server and report throughput and latency (HdrHistogram).")

    @Option(help: "ws:// or wss:// URL of an echo endpoint (wss: --ca-file or --insecure for a private certificate; msrp mode: the relay's WebSocket leg; broadcast mode: a broadcast topic, repeat --url to spread publishers and subscribers over several gateways).")
    var url: [String]
    @Option(help: "echo (messages and their echoes), flood (write as fast as the socket takes, count the echoes: the server saturates first), handshake (connect+echo+close loops), idle (hold connections), msrp (SENDs relayed to --msrp-receiver), or broadcast (--publishers send at --rate, --connections subscribers receive).")
    var mode: String = "echo"
    @Option(help: "broadcast mode: publishing connections (they send --rate messages per second in total; default rate 10000).")
    var publishers = 4
    @Option(help: "msrp mode: the relay's TCP leg the receivers connect to, msrp://HOST:PORT;tcp.") var msrpReceiver: String?
    @Option(help: "Connections (echo, idle) or concurrent loops (handshake).") var connections = 100
    @Option(help: "Message size in bytes.") var size = 64
    @Option(help: "Seconds to measure, after the warm-up.") var duration: Double = 10
    @Option(help: "Seconds to run before measuring.") var warmup: Double = 1
    @Option(help: "Messages in flight per connection (closed loop).") var pipeline = 1
    @Option(help: "Total messages per second across all connections (open loop instead of closed).") var rate: Double?
    @Flag(help: "Send binary messages (default: text).") var binary = false
    @Option(help: "Comma-separated local addresses to connect from, round-robin (past ~28k connections).")
    var sourceAddresses: String = ""
    @Option(help: "Event-loop threads of the generator.") var threads = System.coreCount
    @Flag(help: "Print one JSON object instead of a summary.") var json = false
    @Flag(help: "Offer permessage-deflate (off by default, so figures compare framing, not zlib). Flood mode: every message compressed once before the flood, on its own (client_no_context_takeover), and sent again; echoes are counted, not inflated.") var compression = false
    @Option(help: "Bearer token every connection presents (Authorization: Bearer), for a service with access control.") var token: String?
    @Option(help: "echo, idle and flood modes: what the messages carry: filler (--size bytes of 'x', the default) or chat (chat-like JSON of 100 B-2 KiB from a fixed corpus, for compression figures; --size is then ignored).")
    var payload = "filler"
    @Option(help: "idle mode: messages each connection sends (one at a time, each waiting for its echo) once open, before it idles.")
    var idleMessages = 0
    @Option(help: "PEM file of CA certificates to trust for wss:// instead of the system's.") var caFile: String?
    @Flag(help: "Do not verify the wss:// server's certificate (testing only).") var insecure = false

    func validate() throws {
        if url.isEmpty { throw ValidationError("--url is required") }
        if url.count > 1, mode != "broadcast" { throw ValidationError("several --url only with --mode broadcast") }
        if mode == "broadcast", publishers < 1 { throw ValidationError("--publishers must be at least 1") }
    }

    func run() async throws {
        if mode == "broadcast" { return try await runBroadcast() }
        let url = self.url[0]
        if mode == "msrp" {
            guard let msrpReceiver else { throw ValidationError("--mode msrp needs --msrp-receiver msrp://HOST:PORT;tcp") }
            if let rate {
                // The open loop: SwiftNIO pairs on a schedule (MSRPOpenLoad), light enough that the relay saturates first.
                let receiver = try MSRPURI(parsing: msrpReceiver)
                var configuration = MSRPOpenLoad.Configuration(relay: try WebSocketURL(parsing: url), receiverHost: receiver.host,
                                                               receiverPort: receiver.port ?? 2855)
                configuration.pairs = connections
                configuration.size = size
                configuration.rate = rate
                configuration.duration = duration
                configuration.warmup = warmup
                configuration.threads = threads
                return try report(try await MSRPOpenLoad.run(configuration) { printError("bench: \($0)") })
            }
            let result = try await MSRPLoad.run(relay: url, receiver: msrpReceiver, pairs: connections, size: size,
                                                pipeline: pipeline, duration: duration,
                                                warmup: warmup) { printError("bench: \($0)") }
            return try report(result)
        }
        guard let parsedMode = BenchConfiguration.Mode(rawValue: mode) else {
            throw ValidationError("--mode must be one of \(BenchConfiguration.Mode.allCases.map(\.rawValue))")
        }
        var configuration = BenchConfiguration(url: try WebSocketURL(parsing: url))
        configuration.mode = parsedMode
        configuration.connections = connections
        configuration.size = size
        configuration.duration = duration
        configuration.warmup = warmup
        configuration.pipeline = pipeline
        configuration.rate = rate
        configuration.binary = binary
        configuration.sourceAddresses = sourceAddresses.split(separator: ",").map(String.init)
        configuration.threads = threads
        configuration.compression = compression
        configuration.token = token
        guard let parsedPayload = BenchConfiguration.Payload(rawValue: payload) else {
            throw ValidationError("--payload must be one of \(BenchConfiguration.Payload.allCases.map(\.rawValue))")
        }
        configuration.payload = parsedPayload
        configuration.idleMessages = idleMessages
        configuration.tls = ClientTLS(caFile: caFile, insecure: insecure)
        if parsedMode == .flood, configuration.url.secure {
            throw ValidationError("--mode flood speaks ws:// only (it writes pre-masked frames straight to the socket); use --mode echo for wss://")
        }

        let result = try await LoadGenerator(configuration: configuration) { printError("bench: \($0)") }.run()
        try report(result)
    }

    /// `--mode broadcast`: subscribers and publishers over every `--url`; delivered, lost, latency.
    private func runBroadcast() async throws {
        var configuration = BroadcastLoad.Configuration(urls: try url.map { try WebSocketURL(parsing: $0) })
        configuration.subscribers = connections
        configuration.publishers = publishers
        configuration.size = size
        configuration.rate = rate ?? 10_000
        configuration.duration = duration
        configuration.warmup = warmup
        configuration.threads = threads
        configuration.token = token
        let result = try await BroadcastLoad.run(configuration) { printError("bench: \($0)") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            writeLine(String(decoding: try encoder.encode(result), as: UTF8.self), to: 1)
            return
        }
        for line in [
            "broadcast \(result.urls.joined(separator: " ")): \(result.publishers) publishers, \(result.subscribers) subscribers, \(result.size) B",
            String(format: "  %.0f deliveries/s over %.1f s: %llu published, %llu of %llu delivered, %llu lost, %llu errors",
                   result.deliveries_per_second, result.duration_s, result.published, result.delivered,
                   result.expected_deliveries, result.lost, result.errors),
            "  latency µs: p50 \(result.latency_p50_us)  p99 \(result.latency_p99_us)  p99.9 \(result.latency_p999_us)  max \(result.latency_max_us)",
        ] { writeLine(line, to: 1) }
    }

    private func report(_ result: BenchResult) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            writeLine(String(decoding: try encoder.encode(result), as: UTF8.self), to: 1)
        } else {
            var lines = [
                "\(result.mode) \(result.url): \(result.connections) connections, \(result.size) B, pipeline \(result.pipeline)",
                String(format: "  %.0f msg/s, %.1f MB/s over %.1f s (%llu messages, %llu errors)",
                       result.messages_per_second, result.bytes_per_second / 1e6, result.duration_s, result.messages, result.errors),
                "  latency µs: p50 \(result.latency_p50_us)  p99 \(result.latency_p99_us)  p99.9 \(result.latency_p999_us)  max \(result.latency_max_us)",
            ]
            if let hs = result.handshakes_per_second { lines.append(String(format: "  %.0f handshakes/s", hs)) }
            if let cores = result.generator_cpu_cores {
                let saturated = cores >= 0.9 * Double(threads) ? " (saturated: the figure may be the generator's)" : ""
                lines.append(String(format: "  generator CPU: %.2f cores of %d threads", cores, threads) + saturated)
            }
            for line in lines { writeLine(line, to: 1) }
        }
    }
}
