import NIOCore
import WebSocketEngine
import WebSocketTransport

/// What `wsgate bench` drives.
public struct BenchConfiguration: Sendable {
    public enum Mode: String, Sendable, CaseIterable {
        /// Every connection sends messages and waits for their echoes.
        case echo
        /// Each of `connections` loops repeatedly connects, exchanges one message and closes.
        case handshake
        /// Opens `connections` connections and holds them, idle, for the duration.
        case idle
        /// Every connection writes frames as fast as its socket takes them and counts the echoes (`FloodLoad`).
        case flood
    }

    /// What the messages of the echo and idle modes carry.
    public enum Payload: String, Sendable, CaseIterable {
        /// `size` bytes of `x`: framing and I/O, nothing for a compressor to work at.
        case filler
        /// `ChatCorpus`: chat-like JSON of 100 B–2 KiB, cycled; for permessage-deflate figures.
        case chat
    }

    public var url: WebSocketURL
    public var mode: Mode = .echo
    public var payload: Payload = .filler
    /// Idle mode: messages each connection sends (each waiting for its echo) before it idles.
    public var idleMessages = 0
    public var connections: Int = 100
    public var size: Int = 64
    /// Seconds of measurement (after the warm-up).
    public var duration: Double = 10
    public var warmup: Double = 1
    /// Messages in flight per connection (closed loop).
    public var pipeline: Int = 1
    /// Total messages per second across all connections (open loop); nil for closed loop.
    public var rate: Double?
    public var binary = false
    /// Local addresses to connect from, round-robin (more than ~28k connections need several).
    public var sourceAddresses: [String] = []
    public var threads: Int = System.coreCount
    /// Connection attempts in flight at once while opening connections.
    public var connectConcurrency: Int = 256
    /// Offer permessage-deflate. Off by default: the figures are meant to compare framing and I/O.
    public var compression = false
    /// A bearer token every connection presents (`Authorization: Bearer`), for a service with access control.
    public var token: String?
    /// How `wss://` servers are verified (`--ca-file`, `--insecure`); one context serves every connection.
    public var tls = ClientTLS()

    public init(url: WebSocketURL) { self.url = url }
}

/// What `wsgate bench --json` prints.
public struct BenchResult: Codable, Sendable {
    public var mode: String
    public var url: String
    public var connections: Int
    /// Connections open when the measurement ended (all of them, unless some failed or were dropped).
    public var connections_established: Int
    public var size: Int
    public var pipeline: Int
    public var rate: Double?
    public var binary: Bool
    public var duration_s: Double
    public var messages: UInt64
    public var messages_per_second: Double
    public var bytes_per_second: Double
    public var latency_p50_us: UInt64
    public var latency_p99_us: UInt64
    public var latency_p999_us: UInt64
    public var latency_max_us: UInt64
    public var latency_mean_us: Double
    public var handshakes: UInt64?
    public var handshakes_per_second: Double?
    public var errors: UInt64
    /// Cores the generator itself used on average while measuring (user + system time ÷ wall time): near its
    /// thread count, the generator — not the server — is what saturated.
    public var generator_cpu_cores: Double?

    /// Every field, for modes measured outside `LoadGenerator` (`wsgate bench --mode msrp`).
    public init(mode: String, url: String, connections: Int, connections_established: Int, size: Int, pipeline: Int,
                rate: Double?, binary: Bool, duration_s: Double, messages: UInt64, messages_per_second: Double,
                bytes_per_second: Double, latency_p50_us: UInt64, latency_p99_us: UInt64, latency_p999_us: UInt64,
                latency_max_us: UInt64, latency_mean_us: Double, handshakes: UInt64?, handshakes_per_second: Double?,
                errors: UInt64) {
        self.mode = mode
        self.url = url
        self.connections = connections
        self.connections_established = connections_established
        self.size = size
        self.pipeline = pipeline
        self.rate = rate
        self.binary = binary
        self.duration_s = duration_s
        self.messages = messages
        self.messages_per_second = messages_per_second
        self.bytes_per_second = bytes_per_second
        self.latency_p50_us = latency_p50_us
        self.latency_p99_us = latency_p99_us
        self.latency_p999_us = latency_p999_us
        self.latency_max_us = latency_max_us
        self.latency_mean_us = latency_mean_us
        self.handshakes = handshakes
        self.handshakes_per_second = handshakes_per_second
        self.errors = errors
    }
}
