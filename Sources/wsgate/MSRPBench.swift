import Dispatch
import Foundation
import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import WSGateBench
import WSGateMSRP

/// `wsgate bench --mode msrp` without `--rate`: relayed SEND throughput and latency through an MSRP relay (wsgate's
/// or another, e.g. Kamailio), closed loop. `connections` pairs of a sender on `--url` (the relay's WebSocket leg) and
/// a receiver on `--msrp-receiver` (its TCP leg, `msrp://host:port;tcp`), all authenticated through `MSRPClient`;
/// each sender keeps `pipeline` SENDs in flight to its receiver via the relay. Latency runs from the time the SEND
/// was written to the receiver's having the message (the time travels in the body; both ends share this process's
/// clock). With `--rate` the open loop runs instead (`MSRPOpenLoad` in WSGateBench).
enum MSRPLoad {
    static func run(relay: String, receiver: String, pairs: Int, size: Int, pipeline: Int,
                    duration: Double, warmup: Double, progress: @escaping @Sendable (String) -> Void) async throws -> BenchResult {
        let clients = try await withThrowingTaskGroup(of: (MSRPClient, MSRPClient, [MSRPURI]).self) { group in
            for _ in 0..<pairs {
                group.addTask {
                    let sender = try await MSRPClient.connect(to: relay)
                    let target = try await MSRPClient.connect(to: receiver)
                    let (senderPath, _) = try await sender.auth()
                    let (targetPath, _) = try await target.auth()
                    return (sender, target, senderPath + targetPath + [target.localURI])
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        progress("\(pairs) pairs authenticated; warming up \(warmup) s, measuring \(duration) s")
        let stats = NIOLockedValueBox(Stats())
        let start = DispatchTime.now().uptimeNanoseconds
        let measureFrom = start + UInt64(warmup * 1e9)
        let measureTo = measureFrom + UInt64(duration * 1e9)
        let padding = String(repeating: "m", count: max(0, size - 20))
        await withTaskGroup(of: Void.self) { group in
            for (sender, target, path) in clients {
                group.addTask {
                    for await message in target.incoming {
                        let now = DispatchTime.now().uptimeNanoseconds
                        let text = String(decoding: message.body.readableBytesView.prefix(20), as: UTF8.self)
                        guard let sent = UInt64(text.trimmingCharacters(in: .whitespaces)), sent >= measureFrom, sent < measureTo else { continue }
                        stats.withLockedValue { $0.record(latency: now - sent, bytes: message.body.readableBytes) }
                    }
                }
                for _ in 0..<pipeline {
                    group.addTask {
                        while DispatchTime.now().uptimeNanoseconds < measureTo {
                            let body = stamped(DispatchTime.now().uptimeNanoseconds, padding: padding)
                            do {
                                try await sender.send(body, toPath: path, chunkSize: max(size, 64))
                            } catch {
                                stats.withLockedValue { $0.errors += 1 }
                                return
                            }
                        }
                    }
                }
            }
            // Close the connections once the measurement and a grace period for messages in flight are over.
            group.addTask {
                let end = measureTo + 2_000_000_000
                while DispatchTime.now().uptimeNanoseconds < end { try? await Task.sleep(for: .milliseconds(100)) }
                for (sender, target, _) in clients {
                    await sender.close()
                    await target.close()
                }
            }
        }
        let s = stats.withLockedValue { $0 }
        let sorted = s.latencies.sorted()
        func percentile(_ p: Double) -> UInt64 {
            sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p / 100))] / 1000
        }
        return BenchResult(
            mode: "msrp", url: relay, connections: pairs, connections_established: pairs, size: size,
            pipeline: pipeline, rate: nil, binary: false, duration_s: duration, messages: UInt64(sorted.count),
            messages_per_second: Double(sorted.count) / duration, bytes_per_second: Double(s.bytes) / duration,
            latency_p50_us: percentile(50), latency_p99_us: percentile(99), latency_p999_us: percentile(99.9),
            latency_max_us: (sorted.last ?? 0) / 1000,
            latency_mean_us: sorted.isEmpty ? 0 : Double(sorted.reduce(0, +)) / Double(sorted.count) / 1000,
            handshakes: nil, handshakes_per_second: nil, errors: s.errors)
    }

    /// The body: the due time in its first 20 bytes, then padding to the size asked.
    static func stamped(_ time: UInt64, padding: String) -> ByteBuffer {
        ByteBuffer(string: String(time).padding(toLength: 20, withPad: " ", startingAt: 0) + padding)
    }

    struct Stats {
        var latencies: [UInt64] = []
        var bytes = 0
        var errors: UInt64 = 0
        mutating func record(latency: UInt64, bytes: Int) {
            latencies.append(latency)
            self.bytes += bytes
        }
    }
}
