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
///
/// `--payload chat` floods the 1,024 messages of `ChatCorpus` in turn (a few dozen to a batch, so no batch repeats
/// within a compressor's 32 KiB window), and `--compression` sends them as permessage-deflate messages compressed
/// once, before the flood: the offer asks for `client_no_context_takeover`, so each message stands alone and may be
/// sent again, and they are compressed with a 512-byte window (zlib's smallest), which every `client_max_window_bits`
/// a server may answer (9–15) admits. The server's side is its own: its inflater, and its compressor for the echoes
/// with whatever context takeover it negotiated. The generator never inflates an echo — it counts frames.
public enum FloodLoad {
    /// Frames per write: enough to amortise the write, few enough that a batch is a few dozen KiB at most.
    static func framesPerBatch(size: Int) -> Int { max(1, min(256, 32 * 1024 / max(size + 14, 1))) }
    /// Raw bytes of chat messages per batch: under a 32 KiB window, so the server's compressor never finds a whole
    /// batch it has just seen.
    static let chatBytesPerBatch = 16 * 1024
    /// The window the generator compresses with (see above).
    static let generatorWindowBits = 9

    public static func run(_ config: BenchConfiguration, progress: @escaping @Sendable (String) -> Void = { _ in }) async throws -> BenchResult {
        try await withLoadGroup(threads: config.threads) { loops in
            try await measure(config, loops: loops, progress: progress)
        }
    }

    private static func measure(_ config: BenchConfiguration, loops: [any EventLoop],
                                progress: @escaping @Sendable (String) -> Void) async throws -> BenchResult {
        let batches = self.batches(for: config)
        // Each loop's counters are that loop's: its connections count into them there, and the task reads them
        // through `submit`, which the box checks.
        let counters = loops.map { NIOLoopBoundBox.makeBoxSendingValue(Counters(), eventLoop: $0) }
        var channels: [any Channel] = []
        var failed: UInt64 = 0
        for i in 0..<config.connections {
            let loop = loops[i % loops.count], counter = counters[i % loops.count]
            let request = upgradeRequest(config.url, token: config.token, compression: config.compression)
            do {
                let channel = try await ClientBootstrap(group: loop)
                    .channelOption(.socketOption(.tcp_nodelay), value: 1)
                    .channelInitializer { channel in
                        channel.eventLoop.makeCompletedFuture {
                            try channel.pipeline.syncOperations.addHandler(FloodHandler(
                                request: request, batches: batches, firstBatch: i % batches.count,
                                needsCompression: config.compression, counters: counter.value))
                        }
                    }
                    .connect(host: config.url.host, port: config.url.port).get()
                channels.append(channel)
            } catch {
                failed += 1
            }
        }
        // Every upgrade answered before any connection floods: a server busy with the first connections' floods
        // would otherwise answer the last ones' upgrades late, and the figure would be of fewer connections.
        let upgradeDeadline = NIODeadline.now() + .seconds(30)
        var upgraded = await snapshot(counters, loops: loops)
        while upgraded.open + Int(upgraded.errors) < channels.count, NIODeadline.now() < upgradeDeadline {
            try await Task.sleep(for: .milliseconds(10))
            upgraded = await snapshot(counters, loops: loops)
        }
        for channel in channels { channel.pipeline.fireUserInboundEventTriggered(FloodHandler.Start()) }
        progress("\(channels.count) connections open, \(upgraded.open) upgraded, \(failed) failed; flooding")
        try await Task.sleep(for: .milliseconds(Int64(config.warmup * 1000)))
        let before = await snapshot(counters, loops: loops)
        let cpuBefore = GeneratorCPU.now()
        let start = NIODeadline.now()
        let end = start + .milliseconds(Int64(config.duration * 1000))
        var last = before
        var toldRefusal = false
        while NIODeadline.now() < end {
            let step = min(TimeAmount.seconds(1), end - NIODeadline.now())
            try await Task.sleep(for: .nanoseconds(max(step.nanoseconds, 0)))
            let now = await snapshot(counters, loops: loops)
            progress("\(now.messages - last.messages) msg/s received, \(now.open) connections, \(now.errors) errors")
            if !toldRefusal, now.errors > 0, let refusal = await firstRefusal(counters, loops: loops) {
                progress("an upgrade was refused: \(refusal)")
                toldRefusal = true
            }
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
    final class Counters {
        var messages: UInt64 = 0
        var bytes: UInt64 = 0
        var open = 0
        var errors: UInt64 = 0
        /// Why the first upgrade this loop saw refused was refused.
        var refusal: String?
    }

    private static func firstRefusal(_ counters: [NIOLoopBoundBox<Counters>], loops: [any EventLoop]) async -> String? {
        for (counter, loop) in zip(counters, loops) {
            if let reason = try? await loop.submit({ counter.value.refusal }).get() { return reason }
        }
        return nil
    }

    /// The batches a connection writes in turn: one of `size`-byte filler frames, or `ChatCorpus` spread over
    /// batches of `chatBytesPerBatch` raw bytes, compressed with `compression`.
    static func batches(for config: BenchConfiguration) -> [ByteBuffer] {
        switch config.payload {
        case .filler where !config.compression:
            return [maskedBatch(size: config.size, binary: config.binary, frames: framesPerBatch(size: config.size))]
        case .filler:
            let payload = [UInt8](repeating: UInt8(ascii: "x"), count: config.size)
            return [maskedBatch(messages: Array(repeating: payload, count: framesPerBatch(size: config.size)),
                                binary: config.binary, compressed: true)]
        case .chat:
            var batches: [ByteBuffer] = [], pending: [[UInt8]] = [], bytes = 0
            for message in ChatCorpus.messages(count: 1024) {
                pending.append(message)
                bytes += message.count
                if bytes >= chatBytesPerBatch {
                    batches.append(maskedBatch(messages: pending, binary: config.binary, compressed: config.compression))
                    pending = []
                    bytes = 0
                }
            }
            if !pending.isEmpty {
                batches.append(maskedBatch(messages: pending, binary: config.binary, compressed: config.compression))
            }
            return batches
        }
    }

    /// One masked frame per message; with `compressed`, each a permessage-deflate message on its own (RSV1 set,
    /// compressed without context takeover in a `generatorWindowBits` window).
    static func maskedBatch(messages: [[UInt8]], binary: Bool, compressed: Bool) -> ByteBuffer {
        let codec = PerMessageDeflateCodec(
            parameters: .init(clientNoContextTakeover: true, clientMaxWindowBits: generatorWindowBits), role: .client)
        var generator = SystemRandomNumberGenerator()
        var batch = ByteBuffer()
        for message in messages {
            let payload = ByteBuffer(bytes: message)
            FrameWriter.write(opcode: binary ? .binary : .text, reservedBits: compressed ? 0x40 : 0,  // RSV1: a compressed message
                              payload: compressed ? codec.compress(payload) : payload,
                              maskingKey: .random(using: &generator), into: &batch)
        }
        return batch
    }

    private static func snapshot(_ counters: [NIOLoopBoundBox<Counters>], loops: [any EventLoop]) async -> (messages: UInt64, bytes: UInt64, open: Int, errors: UInt64) {
        var total: (messages: UInt64, bytes: UInt64, open: Int, errors: UInt64) = (0, 0, 0, 0)
        for (counter, loop) in zip(counters, loops) {
            let one = try? await loop.submit {
                let counter = counter.value
                return (counter.messages, counter.bytes, counter.open, counter.errors)
            }.get()
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

    static func upgradeRequest(_ url: WebSocketURL, token: String?, compression: Bool = false) -> ByteBuffer {
        var key = [UInt8](repeating: 0, count: 16)
        for i in key.indices { key[i] = .random(in: 0...255) }
        var head = "GET \(url.resourceName) HTTP/1.1\r\nHost: \(url.hostHeader)\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            + "Sec-WebSocket-Key: \(Base64.encode(key))\r\nSec-WebSocket-Version: 13\r\n"
        if let token { head += "Authorization: Bearer \(token)\r\n" }
        if compression {
            head += "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover; client_max_window_bits\r\n"
        }
        return ByteBuffer(string: head + "\r\n")
    }
}

/// One flooding connection: the upgrade, then the batch written again and again while the channel is writable,
/// and the echoes counted by walking their frame headers.
final class FloodHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let request: ByteBuffer
    private let batches: [ByteBuffer]
    private var nextBatch: Int
    /// The upgrade must accept permessage-deflate (the batches are compressed).
    private let needsCompression: Bool
    private let counters: FloodLoad.Counters
    private var upgraded = false
    /// Set by `Start`, once every connection of the run is upgraded.
    private var started = false
    private var head = ByteBuffer()
    /// Payload bytes of the current echoed frame still to come.
    private var skipping = 0
    /// The start of a frame header that a read ended inside.
    private var carry: [UInt8] = []

    init(request: ByteBuffer, batches: [ByteBuffer], firstBatch: Int, needsCompression: Bool, counters: FloodLoad.Counters) {
        self.request = request
        self.batches = batches
        self.nextBatch = firstBatch
        self.needsCompression = needsCompression
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
            let response = head.getString(at: head.readerIndex, length: end.lowerBound - head.readerIndex) ?? ""
            if let refusal = Self.refusal(of: response, needsCompression: needsCompression) {
                counters.errors += 1
                if counters.refusal == nil { counters.refusal = refusal }
                context.close(promise: nil)
                return
            }
            head.moveReaderIndex(to: end.upperBound)
            input = head
            head = ByteBuffer()
            upgraded = true
            counters.open += 1
            if started { flood(context: context) }
        }
        count(&input)
    }

    /// Fired by the run once every connection is upgraded (or 30 s have passed): the flood begins.
    struct Start {}

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard event is Start else { return context.fireUserInboundEventTriggered(event) }
        started = true
        if upgraded { flood(context: context) }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if upgraded && started { flood(context: context) }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        counters.errors += 1
        context.close(promise: nil)
    }

    /// Why an upgrade response cannot be flooded, or nil: not a 101, or (with compressed batches) no
    /// permessage-deflate, or a client window under the one the batches were compressed with.
    static func refusal(of response: String, needsCompression: Bool) -> String? {
        let lines = response.split(separator: "\r\n")
        guard let status = lines.first, status.hasPrefix("HTTP/1.1 101") else {
            return "the server answered \(lines.first.map(String.init) ?? "nothing") instead of 101"
        }
        guard needsCompression else { return nil }
        let extensions = lines.filter { $0.lowercased().hasPrefix("sec-websocket-extensions:") }
            .map { $0.dropFirst("sec-websocket-extensions:".count).lowercased() }.joined(separator: ",")
        guard extensions.contains("permessage-deflate") else { return "the server did not accept permessage-deflate" }
        if let range = extensions.firstRange(of: "client_max_window_bits="),
           let bits = Int(extensions[range.upperBound...].prefix { $0.isNumber }), bits < FloodLoad.generatorWindowBits {
            return "the server asked for client_max_window_bits=\(bits), under the generator's \(FloodLoad.generatorWindowBits)"
        }
        return nil
    }

    private func flood(context: ChannelHandlerContext) {
        var wrote = false
        while context.channel.isWritable {
            context.write(wrapOutboundOut(batches[nextBatch]), promise: nil)
            nextBatch = nextBatch + 1 == batches.count ? 0 : nextBatch + 1
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
