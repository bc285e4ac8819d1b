#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketEngine

/// `wsgate bench --mode flood`: as tcpkali floods, each connection writes frames as fast as its socket takes them and
/// counts the echoes coming back — no per-message latency, no message objects, no wait for an echo before the next
/// send. What it costs per message is a share of one `ByteBuffer` write of many pre-masked frames (written once and
/// written again: a load generator's frames need not be unpredictable to the server it measures) and a walk over
/// the echoed frames' headers. So the server, not the generator, is what saturates — the closed loop spends as much
/// per message as the server does (it is the same channel handler, in the client role), and on a machine the two
/// share, its figure is half the generator's.
///
/// Backpressure is the socket's: a connection writes while its channel is writable and resumes when it is again;
/// the server, reading no faster than its echoes drain, bounds the flood by itself.
public enum FloodLoad {
    /// Frames per write: enough to amortise the write, few enough that a batch is a few dozen KiB at most.
    static func framesPerBatch(size: Int) -> Int { max(1, min(256, 32 * 1024 / max(size + 14, 1))) }

    public static func run(_ config: BenchConfiguration, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> BenchResult {
        try await withLoadGroup(threads: config.threads) { loops in
            try await measure(config, loops: loops, progress: progress)
        }
    }

    private static func measure(_ config: BenchConfiguration, loops: [any EventLoop],
                                progress: @escaping @Sendable (String) -> Void) async throws -> BenchResult {
        let batch = maskedBatch(size: config.size, binary: config.binary, frames: framesPerBatch(size: config.size))
        let counters = loops.map { _ in Counters() }
        var channels: [any Channel] = []
        var failed: UInt64 = 0
        for i in 0..<config.connections {
            let loop = loops[i % loops.count], counter = counters[i % loops.count]
            let request = upgradeRequest(config.url, token: config.token)
            do {
                let channel = try await ClientBootstrap(group: loop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(FloodHandler(request: request, batch: batch, counters: counter))
                        }
                    }
                    .connect(host: config.url.host, port: config.url.port).get()
                channels.append(channel)
            } catch {
                failed += 1
            }
        }
        progress("\(channels.count) connections open, \(failed) failed; flooding")
        try await Task.sleep(for: .milliseconds(Int64(config.warmup * 1000)))
        let before = await snapshot(counters, loops: loops)
        let cpuBefore = GeneratorCPU.now()
        let start = NIODeadline.now()
        let end = start + .milliseconds(Int64(config.duration * 1000))
        var last = before
        while NIODeadline.now() < end {
            let step = min(TimeAmount.seconds(1), end - NIODeadline.now())
            try await Task.sleep(for: .nanoseconds(max(step.nanoseconds, 0)))
            let now = await snapshot(counters, loops: loops)
            progress("\(now.messages - last.messages) msg/s received, \(now.open) connections, \(now.errors) errors")
            last = now
        }
        let after = last
        let seconds = Double((NIODeadline.now() - start).nanoseconds) / 1e9
        let cpu = GeneratorCPU.now().cores(since: cpuBefore, seconds: seconds)
        for channel in channels { channel.close(promise: nil) }
        let messages = after.messages - before.messages
        var result = BenchResult(mode: "flood", url: config.url.description, connections: config.connections,
                                 connections_established: after.open, size: config.size, pipeline: 0, rate: nil,
                                 binary: config.binary, duration_s: seconds, messages: messages,
                                 messages_per_second: Double(messages) / seconds,
                                 bytes_per_second: Double(after.bytes - before.bytes) / seconds, latency_p50_us: 0,
                                 latency_p99_us: 0, latency_p999_us: 0, latency_max_us: 0, latency_mean_us: 0,
                                 handshakes: nil, handshakes_per_second: nil, errors: failed + after.errors)
        result.generator_cpu_cores = cpu
        return result
    }

    /// Counted on one loop by its connections.
    final class Counters: @unchecked Sendable {
        // @unchecked: touched on its loop only; read by `snapshot` through that loop.
        var messages: UInt64 = 0
        var bytes: UInt64 = 0
        var open = 0
        var errors: UInt64 = 0
    }

    private static func snapshot(_ counters: [Counters], loops: [any EventLoop]) async -> (messages: UInt64, bytes: UInt64, open: Int, errors: UInt64) {
        var total: (messages: UInt64, bytes: UInt64, open: Int, errors: UInt64) = (0, 0, 0, 0)
        for (counter, loop) in zip(counters, loops) {
            let one = try? await loop.submit { (counter.messages, counter.bytes, counter.open, counter.errors) }.get()
            if let one { total = (total.messages + one.0, total.bytes + one.1, total.open + one.2, total.errors + one.3) }
        }
        return total
    }

    /// `frames` client frames of `size` bytes of `x`, each masked with a key of its own.
    static func maskedBatch(size: Int, binary: Bool, frames: Int) -> ByteBuffer {
        var generator = SystemRandomNumberGenerator()
        var batch = ByteBuffer()
        let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: size)
        for _ in 0..<frames {
            FrameWriter.write(opcode: binary ? .binary : .text, payload: payload,
                              maskingKey: .random(using: &generator), into: &batch)
        }
        return batch
    }

    static func upgradeRequest(_ url: WebSocketURL, token: String?) -> ByteBuffer {
        var key = [UInt8](repeating: 0, count: 16)
        for i in key.indices { key[i] = .random(in: 0...255) }
        var head = "GET \(url.resourceName) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(Base64.encode(key))\r\nSec-WebSocket-Version: 13\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        return ByteBuffer(string: head + "\r\n")
    }
}

/// One flooding connection: the upgrade, then the batch written again and again while the channel is writable,
/// and the echoes counted by walking their frame headers.
final class FloodHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private let batch: ByteBuffer
    private let counters: FloodLoad.Counters
    private var upgraded = false
    private var head = ByteBuffer()
    /// Payload bytes of the current echoed frame still to come.
    private var skipping = 0
    /// The start of a frame header that a read ended inside.
    private var carry: [UInt8] = []

    init(request: ByteBuffer, batch: ByteBuffer, counters: FloodLoad.Counters) {
        self.request = request
        self.batch = batch
        self.counters = counters
    }

    func channelActive(context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(request), promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if upgraded { counters.open -= 1 }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if !upgraded {
            head.writeBuffer(&input)
            guard let end = head.readableBytesView.firstRange(of: Array("\r\n\r\n".utf8)) else { return }
            let status = head.getString(at: head.readerIndex, length: min(12, head.readableBytes)) ?? ""
            guard status.hasPrefix("HTTP/1.1 101") else {
                counters.errors += 1
                context.close(promise: nil)
                return
            }
            head.moveReaderIndex(to: end.upperBound)
            input = head
            head = ByteBuffer()
            upgraded = true
            counters.open += 1
            flood(context: context)
        }
        count(&input)
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if upgraded { flood(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        counters.errors += 1
        context.close(promise: nil)
    }

    private func flood(context: ChannelHandlerContext) {
        var wrote = false
        while context.channel.isWritable {
            context.write(wrapOutboundOut(batch), promise: nil)
            wrote = true
        }
        if wrote { context.flush() }
    }

    /// Counts the server's frames (unmasked) in `input`, across reads. A header read whole from the buffer costs
    /// no allocation; only one split between reads is gathered in `carry`.
    private func count(_ input: inout ByteBuffer) {
        counters.bytes &+= UInt64(input.readableBytes)
        input.withUnsafeReadableBytes { raw in
            var i = 0
            let n = raw.count
            while i < n {
                if skipping > 0 {
                    let step = min(skipping, n - i)
                    skipping -= step
                    i += step
                    continue
                }
                if carry.isEmpty, let (header, length) = Self.header(raw, at: i) {
                    frameBegan(opcodeByte: raw[i], payloadLength: length)
                    i += header
                    continue
                }
                // A header split between reads: gathered byte by byte (rare).
                carry.append(raw[i])
                i += 1
                if let (header, length) = carry.withUnsafeBytes({ Self.header($0, at: 0) }), header == carry.count {
                    frameBegan(opcodeByte: carry[0], payloadLength: length)
                    carry.removeAll(keepingCapacity: true)
                }
            }
        }
    }

    private func frameBegan(opcodeByte: UInt8, payloadLength: Int) {
        if opcodeByte & 0x0F != 0x8 { counters.messages &+= 1 }
        skipping = payloadLength
    }

    /// The length of an unmasked frame's header at `offset` and its payload length, if the whole header is there.
    private static func header(_ raw: UnsafeRawBufferPointer, at offset: Int) -> (Int, Int)? {
        guard raw.count - offset >= 2 else { return nil }
        let short = Int(raw[offset + 1] & 0x7F)
        let headerBytes = short < 126 ? 2 : short == 126 ? 4 : 10
        guard raw.count - offset >= headerBytes else { return nil }
        switch short {
        case 126: return (headerBytes, Int(raw[offset + 2]) << 8 | Int(raw[offset + 3]))
        case 127: return (headerBytes, (2..<10).reduce(0) { $0 << 8 | Int(raw[offset + $1]) })
        default: return (headerBytes, short)
        }
    }
}

/// The generator's own CPU time (user + system), so a figure can say whether the generator or the server saturated.
struct GeneratorCPU {
    let seconds: Double

    static func now() -> GeneratorCPU {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(RUSAGE_SELF.rawValue, &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
        let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
        return GeneratorCPU(seconds: user + system)
    }

    /// Cores used on average since `earlier`, over `seconds` of wall time.
    func cores(since earlier: GeneratorCPU, seconds wall: Double) -> Double {
        wall > 0 ? (seconds - earlier.seconds) / wall : 0
    }
}
