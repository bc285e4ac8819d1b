// wsgate-microbench: throughput and allocations of the engine's hot loops.
//
//   swift build -c release --product wsgate-microbench
//   LD_PRELOAD=.build/release/libMallocInterposerSwift.so .build/release/wsgate-microbench
//
// Without the preload the timings are the same and allocations are reported as "n/a".
//
//   --only TEXT       run only the rows whose name starts with TEXT (e.g. `--only "echo path"`)
//   --iterations N    run each selected row exactly N times instead of for a second: a fixed amount of work,
//                     for instruction counts under `valgrind --tool=callgrind`, which are repeatable where
//                     timings on a shared machine are not
import Logging
import MallocInterposerSwift
import NIOCore
import NIOEmbedded
import NIOConcurrencyHelpers
import NIOPosix
import WebSocketAPI
import WSGateBench
import WSGateMonitoring
import WSGateServices
import WebSocketEngine
import WebSocketTransport

#if canImport(Glibc)
import Glibc
#endif

struct Row {
    var name: String
    var perIteration: String
    var nanosPerIteration: Double
    var gigabytesPerSecond: Double?
    var allocationsPerUnit: Double?
}

let allocationCounting: Bool = {
    MallocInterposerSwift.initialize()
    MallocInterposerSwift.hook()
    let probe = UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 8)
    probe.deallocate()
    MallocInterposerSwift.unhook()
    return MallocInterposerSwift.getStatistics().mallocCount > 0
}()

func now() -> UInt64 { NIODeadline.now().uptimeNanoseconds }

/// `--only TEXT` and `--iterations N` (see the top of this file).
struct Selection {
    var only: String?
    var iterations: Int?

    init(arguments: [String]) {
        var rest = arguments.makeIterator()
        while let argument = rest.next() {
            switch argument {
            case "--only": only = rest.next()
            case "--iterations": iterations = rest.next().flatMap(Int.init)
            default:
                print("usage: wsgate-microbench [--only TEXT] [--iterations N]")
                exit(2)
            }
        }
    }

    func includes(_ name: String) -> Bool { only.map { name.hasPrefix($0) } ?? true }
}

let selection = Selection(arguments: Array(CommandLine.arguments.dropFirst()))

/// Runs `body` until about `seconds` have passed (after a warm-up) and reports time and allocations per call.
func measure(_ name: String, unit: String, bytes: Int? = nil, unitsPerCall: Int = 1, seconds: Double = 1,
             _ body: () -> Void) -> Row? {
    guard selection.includes(name) else { return nil }
    for _ in 0..<3 { body() }
    var calls = 0
    let budget = UInt64(seconds * 1e9)
    let before = allocationCounting ? MallocInterposerSwift.getStatistics().mallocCount : 0
    if allocationCounting { MallocInterposerSwift.hook() }
    let start = now()
    if let iterations = selection.iterations {
        for _ in 0..<iterations { body() }
        calls = iterations
    } else {
        while now() - start < budget {
            for _ in 0..<16 { body() }
            calls += 16
        }
    }
    let elapsed = Double(now() - start)
    if allocationCounting { MallocInterposerSwift.unhook() }
    let allocations = allocationCounting ? Double(MallocInterposerSwift.getStatistics().mallocCount - before) : nil
    let perCall = elapsed / Double(calls)
    return Row(name: name, perIteration: "\(unitsPerCall) \(unit)", nanosPerIteration: perCall,
               gigabytesPerSecond: bytes.map { Double($0) / perCall },
               allocationsPerUnit: allocations.map { $0 / Double(calls * unitsPerCall) })
}

// MARK: Masking

func maskingRows() -> [Row] {
    var rows: [Row] = []
    let key = MaskingKey(0x37, 0xFA, 0x21, 0x3D)
    for size in [1 << 10, 16 << 10, 1 << 20] {
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        let source = UnsafeMutableRawBufferPointer.allocate(byteCount: size, alignment: 16)
        defer { buffer.deallocate(); source.deallocate() }
        for i in 0..<size { source[i] = UInt8(truncatingIfNeeded: i) }
        rows.appendIfMeasured(measure("unmask in place \(size >> 10) KiB", unit: "buffer", bytes: size) {
            Masking.apply(key: key, phase: 1, to: buffer)
        })
        rows.appendIfMeasured(measure("unmask while copying \(size >> 10) KiB", unit: "buffer", bytes: size) {
            Masking.apply(key: key, phase: 1, from: source.baseAddress!, to: buffer.baseAddress!, count: size)
        })
    }
    return rows
}

// MARK: UTF-8

func utf8Rows() -> [Row] {
    // "Mixed": chat-like text, mostly ASCII with Latin-1, Greek, CJK and emoji mixed in (~12% non-ASCII bytes).
    let mixedUnit = "Hello wörld, the quick brown fox — κόσμε — jumps over the lazy dog 你好 🎉 and back again. "
    let samples: [(String, String)] = [
        ("ASCII", String(repeating: "The quick brown fox jumps over the lazy dog. ", count: 1500)),
        ("mixed", String(repeating: mixedUnit, count: 700)),
        ("multibyte", String(repeating: "Съешь же ещё этих мягких французских булок 你好世界 ", count: 700)),
    ]
    var rows = samples.compactMap { name, text in
        let bytes = Array(text.utf8)
        return bytes.withUnsafeBytes { raw in
            measure("UTF-8 validate \(name) \(bytes.count >> 10) KiB", unit: "buffer", bytes: bytes.count) {
                var validator = UTF8Validator()
                precondition(validator.validate(raw))
            }
        }
    }
    // Short pieces (a chat message, a small frame): 1000 pieces of the same text per call.
    for (name, text) in samples.prefix(2) {
        for size in [64, 200] {
            var bytes = Array(text.utf8.prefix(size))
            while String(validating: bytes, as: UTF8.self) == nil { bytes.removeLast() }
            rows.appendIfMeasured(bytes.withUnsafeBytes { raw in
                measure("UTF-8 validate \(name) \(bytes.count) B", unit: "pieces", bytes: bytes.count * 1000, unitsPerCall: 1000) {
                    for _ in 0..<1000 {
                        var validator = UTF8Validator()
                        precondition(validator.validate(raw))
                    }
                }
            })
        }
    }
    return rows
}

// MARK: Frames

func frameRows() -> [Row] {
    let frames = 1000
    var wire = ByteBuffer()
    var generator = SystemRandomNumberGenerator()
    let payload = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64)
    for _ in 0..<frames {
        FrameWriter.write(opcode: .text, payload: payload, maskingKey: .random(using: &generator), into: &wire)
    }
    var server = RFC6455Connection(role: .server)
    var output = ByteBuffer()
    output.reserveCapacity(1 << 16)
    let parse = measure("parse+unmask+validate 64 B text frames", unit: "frames", bytes: wire.readableBytes, unitsPerCall: frames) {
        var input = wire
        var count = 0
        while let action = server.read(from: &input, output: &output) {
            if case .message = action { count += 1 }
        }
        precondition(count == frames)
    }
    var writer = RFC6455Connection(role: .server)
    let serialize = measure("serialize 64 B server frames", unit: "frames", unitsPerCall: frames) {
        output.clear()
        for _ in 0..<frames { writer.writeMessage(.text, payload: payload, into: &output) }
    }
    var client = RFC6455Connection(role: .client)
    let serializeMasked = measure("serialize+mask 64 B client frames", unit: "frames", unitsPerCall: frames) {
        output.clear()
        for _ in 0..<frames { client.writeMessage(.text, payload: payload, into: &output) }
    }
    return [parse, serialize, serializeMasked].compactMap { $0 }
}

// MARK: The echo path through the real channel handlers

extension Array where Element == Row {
    mutating func appendIfMeasured(_ row: Row?) {
        if let row { append(row) }
    }
}

/// 64 frames of 64 B text, as one socket read would deliver them under load; masked when a client sends them.
func frameBatch(masked: Bool, count: Int = 64) -> ByteBuffer {
    var batch = ByteBuffer()
    var generator = SystemRandomNumberGenerator()
    for _ in 0..<count {
        FrameWriter.write(opcode: .text, payload: ByteBuffer(repeating: UInt8(ascii: "x"), count: 64),
                          maskingKey: masked ? .random(using: &generator) : nil, into: &batch)
    }
    return batch
}

/// Writes `batch` in and reads everything written out, checking the byte count: the echo of one read batch.
func echo(_ batch: ByteBuffer, through channel: EmbeddedChannel, expecting bytes: Int) {
    try! channel.writeInbound(batch)
    var echoed = 0
    while let out = try! channel.readOutbound(as: ByteBuffer.self) { echoed += out.readableBytes }
    precondition(echoed == bytes, "echoed \(echoed) bytes, expected \(bytes)")
}

/// The server's echo: masked client frames in, the echo service's unmasked frames out.
func serverEchoPathRow() throws -> Row? {
    let name = "echo path (handlers, EmbeddedChannel)"
    guard selection.includes(name) else { return nil }
    let channel = EmbeddedChannel()
    var router = ServiceRouter()
    router.mount(EchoService(), at: "/echo")
    var logger = Logger(label: "microbench")
    logger.logLevel = .critical
    // Counted into Prometheus metrics as `wsgate serve` does, so the figure includes what counting costs.
    try WebSocketServer.configureConnection(channel, router: router, configuration: ServerConfiguration(),
                                            metrics: GatewayMonitoring().metrics, logger: logger)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    let handshake = "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    try channel.writeInbound(ByteBuffer(string: handshake))
    while try channel.readOutbound(as: ByteBuffer.self) != nil {}

    let batch = frameBatch(masked: true)
    let row = measure(name, unit: "frames", bytes: batch.readableBytes, unitsPerCall: 64) {
        echo(batch, through: channel, expecting: 64 * 66)
    }
    _ = try channel.finish()
    return row
}

/// Sends every message it receives back: the client's half of an echo (what `wsgate bench` does per message).
final class ClientEcho: WebSocketHandler, Sendable {
    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        connection.send(message, promise: nil)
    }
}

/// The client's path, which the load generator runs for every message: unmasked server frames in, masked
/// frames out, through the same connection handler the server uses.
func clientEchoPathRow() throws -> Row? {
    let name = "client echo path (handlers, EmbeddedChannel)"
    guard selection.includes(name) else { return nil }
    let channel = EmbeddedChannel()
    var logger = Logger(label: "microbench")
    logger.logLevel = .critical
    let url = try WebSocketURL(parsing: "ws://127.0.0.1:1/echo")
    var configuration = WebSocketClientConfiguration()
    configuration.compression = nil
    let opened = channel.eventLoop.makePromise(of: (any WebSocketConnection).self)
    try WebSocketClient.configureConnection(channel.pipeline.syncOperations, url: url, configuration: configuration,
                                            handler: ClientEcho(), opened: opened, logger: logger)
    try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    // Answer the client's request as a server would, with the accept value for its key.
    var request = ByteBuffer()
    while var out = try channel.readOutbound(as: ByteBuffer.self) { request.writeBuffer(&out) }
    let head = String(buffer: request)
    guard let keyLine = head.split(separator: "\r\n").first(where: { $0.lowercased().hasPrefix("sec-websocket-key:") })
    else { fatalError("the client sent no Sec-WebSocket-Key") }
    let key = String(keyLine.dropFirst("sec-websocket-key:".count).drop(while: { $0 == " " }))
    try channel.writeInbound(ByteBuffer(string: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Accept: \(AcceptKey.compute(forKey: key))\r\n\r\n"))
    _ = try opened.futureResult.wait()

    let batch = frameBatch(masked: false)
    let row = measure(name, unit: "frames", bytes: batch.readableBytes, unitsPerCall: 64) {
        echo(batch, through: channel, expecting: 64 * 70)
    }
    _ = try channel.finish()
    return row
}

// MARK: The echo path over real loopback sockets

/// Allocations per echoed message in steady state, gateway and generator in this process: sampled at the
/// generator's one-second ticks after its warm-up, so connection setup is not counted. The figure covers both
/// sides (client frame out, server echo, client read), so the server's own share is at most this.
func loopbackEchoRow() async throws -> Row {
    var router = ServiceRouter()
    router.mount(EchoService(), at: "/echo")
    var logger = Logger(label: "microbench")
    logger.logLevel = .critical
    let server = try await WebSocketServer.start(configuration: ServerConfiguration(port: 0), router: router,
                                                 metrics: GatewayMonitoring().metrics, logger: logger)
    var config = BenchConfiguration(url: try WebSocketURL(parsing: "ws://127.0.0.1:\(server.localAddress!.port!)/echo"))
    config.connections = 10
    config.pipeline = 16
    config.duration = 4
    config.warmup = 1
    config.threads = 1
    let samples = NIOLockedValueBox<[(messages: UInt64, mallocs: Int)]>([])
    if allocationCounting { MallocInterposerSwift.hook() }
    _ = try await LoadGenerator(configuration: config, tick: { total in
        let mallocs = allocationCounting ? MallocInterposerSwift.getStatistics().mallocCount : 0
        samples.withLockedValue { $0.append((total, mallocs)) }
    }).run()
    if allocationCounting { MallocInterposerSwift.unhook() }
    try await server.close()
    let taken = samples.withLockedValue { $0 }
    guard taken.count >= 4 else { return Row(name: "echo over loopback", perIteration: "-", nanosPerIteration: 0) }
    let first = taken[1], last = taken[taken.count - 2]
    let messages = Double(last.messages - first.messages)
    return Row(name: "echo over loopback (both sides, steady)", perIteration: "\(Int(messages)) msgs",
               nanosPerIteration: 0, gigabytesPerSecond: nil,
               allocationsPerUnit: allocationCounting ? Double(last.mallocs - first.mallocs) / messages : nil)
}

// MARK: Report

// A synchronous main: the rows above run on this thread as plain calls, not inside the main actor's async
// context; only the loopback row, which needs real event loops, is awaited, from an event loop's task.
var rows = maskingRows() + utf8Rows() + frameRows()
rows.appendIfMeasured(try serverEchoPathRow())
rows.appendIfMeasured(try clientEchoPathRow())
if selection.includes("echo over loopback") {
    let loopback = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Row.self)
    loopback.completeWithTask { try await loopbackEchoRow() }
    rows.append(try loopback.futureResult.wait())
}

func pad(_ s: String, _ width: Int) -> String { s.count >= width ? s : s + String(repeating: " ", count: width - s.count) }
func format(_ value: Double, _ decimals: Int) -> String {
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let rounded = (value * scale).rounded() / scale
    return decimals == 0 ? String(Int(rounded)) : String(rounded)
}

print(pad("benchmark", 44) + pad("per call", 14) + pad("ns/call", 12) + pad("GB/s", 10) + "allocs/unit")
for row in rows {
    print(pad(row.name, 44) + pad(row.perIteration, 14) + pad(format(row.nanosPerIteration, 1), 12)
          + pad(row.gigabytesPerSecond.map { format($0, 2) } ?? "-", 10)
          + (row.allocationsPerUnit.map { format($0, 4) } ?? "n/a (run with LD_PRELOAD=libMallocInterposerSwift.so)"))
}
