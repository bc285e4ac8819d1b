import Logging
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// Drives a wire's engine (`RFC6455Connection`, or `HixieConnection` for the drafts) on a channel after the
/// opening handshake, for servers and clients alike, and is the `WebSocketConnection` services see. Generic
/// over the engine; the entry points NIO and the services call per frame carry `@_specialize` for RFC 6455, since
/// methods of a generic class otherwise run unspecialised (engine calls through the witness table, fields at
/// offsets read from metadata) — a quarter more time per echoed frame, measured (BENCHMARKS.md).
///
/// Writes made while a read batch is processed accumulate in one buffer that is written and flushed once
/// at `channelReadComplete`; writes from elsewhere are coalesced into one flush per event-loop tick.
/// Reading stops while the socket is not writable or the service paused it (`ReadGate`), so a peer that does
/// not read cannot make the gateway buffer without bound. How the connection ends is decided by
/// `CloseLifecycle`; this handler only carries out its actions (timers, writes, closes).
final class WebSocketChannelHandler<Engine: WebSocketWireEngine>: ChannelDuplexHandler, WebSocketConnection, @unchecked Sendable {
    // @unchecked Sendable: mutable state is only touched on `eventLoop`; public entry points hop there first.
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    struct Options: Sendable {
        /// How long to wait for the peer's part of the close handshake before dropping the TCP connection.
        var closeTimeout: TimeAmount = .seconds(5)
        /// Payloads at least this large are written as their own buffer (server side) instead of copied.
        var largePayloadThreshold: Int = 16 << 10
        /// Keep-alive pings and the idle timeout.
        var liveness = Liveness.Configuration(pingInterval: nil, pongTimeout: .seconds(20), idleTimeout: nil)
        /// Bytes that may wait to be written to a peer that does not read; past it the peer is disconnected
        /// (close 1008) rather than buffered for without end.
        var maxSendQueueBytes: Int = .max
        /// Where this connection's traffic and close are counted (server connections); nil counts nothing.
        var metrics: ServiceMetrics?
        /// Bytes a lingering close (after a protocol failure) reads and discards at most before closing.
        var lingerByteLimit: Int = 64 << 20
        /// The service's limit on what the client sends; nil: none (and no cost on the read path).
        var rateLimit: InboundRateLimit?
    }

    let request: WebSocketRequest
    let eventLoop: any EventLoop
    // `@exclusivity(unchecked)` on the state touched per frame: it is only used on `eventLoop`, and no access
    // to it is held across a call out of the handler (an engine call returns before the service hears of its
    // event), so the runtime's exclusivity check — about 100 instructions per access, several per frame — has
    // nothing to find. The rest of the state keeps the check.

    /// The wire's engine and the frames written to it, not yet handed to the channel.
    @exclusivity(unchecked) private var wire: EngineWithOutput<Engine>
    private let handler: any WebSocketHandler
    /// `handler`, when it takes large messages in pieces and the wire can stream them.
    private let streamingHandler: (any WebSocketStreamingHandler)?
    private let options: Options
    private let logger: Logger

    private var context: ChannelHandlerContext?
    /// The channel it drives while in its pipeline; on the loop only (the read budget tests read its options).
    package var channel: (any Channel)? { context?.channel }
    private var unflushed = false
    private var inReadBatch = false
    private var flushScheduled = false
    private var readGate = ReadGate()
    private var lifecycle: CloseLifecycle
    private var closeTimer: Scheduled<Void>?
    /// The service's rate limit (nil without one), what was read but not yet delivered while it throttles,
    /// and the timer that lets the client go again.
    private var rateLimiter: InboundRateLimiter?
    private var heldInput: ByteBuffer?
    private var rateLimitTimer: Scheduled<Void>?
    @exclusivity(unchecked) private var liveness: Liveness
    private var livenessTimer: RepeatedTask?
    /// Traffic not yet handed to `options.metrics` (see `TrafficReporter`).
    @exclusivity(unchecked) private var traffic = TrafficReporter()
    private var countedOpen = false

    init(engine: Engine, request: WebSocketRequest, handler: any WebSocketHandler,
         eventLoop: any EventLoop, options: Options, logger: Logger) {
        self.request = request
        self.eventLoop = eventLoop
        var engine = engine
        if let streaming = handler as? any WebSocketStreamingHandler,
           engine.streamMessages(pieceBytes: streaming.streaming.pieceBytes, maxMessageBytes: streaming.streaming.maxMessageBytes) {
            streamingHandler = streaming
        } else {
            streamingHandler = nil
        }
        self.wire = EngineWithOutput(engine)
        self.handler = handler
        var options = options
        // A wire without pings (the hixie drafts) cannot be kept alive or probed; the idle timeout still applies.
        if !engine.canPing { options.liveness.pingInterval = nil }
        options.liveness.compressionRestAfter = engine.compressionRestAfter.map { TimeAmount($0) }
        self.options = options
        self.logger = logger
        self.liveness = Liveness(configuration: options.liveness, now: .now())
        self.lifecycle = CloseLifecycle(configuration: .init(for: engine, lingerByteLimit: options.lingerByteLimit))
        self.rateLimiter = options.rateLimit.map { InboundRateLimiter($0, now: .now()) }
    }

    var isWritable: Bool { readGate.writable }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        readGate = ReadGate(writable: context.channel.isWritable)
        if let tick = options.liveness.tickInterval {
            livenessTimer = eventLoop.scheduleRepeatedTask(initialDelay: tick, delay: tick) { [weak self] _ in
                self?.livenessTick()
            }
        }
        if let metrics = options.metrics {
            metrics.opened()
            countedOpen = true
        }
        handler.connectionDidOpen(self)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        livenessTimer?.cancel()
        rateLimitTimer?.cancel()
        self.context = nil
    }

    @_specialize(exported: false, where Engine == RFC6455Connection)
    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        guard !lifecycle.isLingering else {
            // The peer is told why it was failed; what it still sends is only counted against the bound.
            return execute(lifecycle.discarded(bytes: input.readableBytes), context: context)
        }
        liveness.frameReceived()
        inReadBatch = true
        if rateLimiter != nil { return readRateLimited(&input, context: context) }
        while let action = wire.read(from: &input) {
            perform(action, context: context)
        }
    }

    @_specialize(exported: false, where Engine == RFC6455Connection)
    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        flushOutput(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        livenessTimer?.cancel()
        wire.engine.connectionEnded()
        reportTraffic(now: nil)
        execute(lifecycle.endOfStream(), context: context)
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if readGate.setWritable(context.channel.isWritable) { context.read() }
        handler.connectionWritabilityDidChange(self)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)", "path": "\(request.path)"])
        context.close(promise: nil)
    }

    @_specialize(exported: false, where Engine == RFC6455Connection)
    func read(context: ChannelHandlerContext) {
        if readGate.readRequested() { context.read() }
    }

    // MARK: Engine events

    private func perform(_ event: WebSocketWireEvent, context: ChannelHandlerContext) {
        switch event {
        case .message(let opcode, let data):
            liveness.dataMessage()
            traffic.received(bytes: data.readableBytes)
            handler.connection(self, didReceive: WebSocketMessage(kind: opcode == .text ? .text : .binary, data: data))
        case .messagePiece(let opcode, let data, let isFirst, let isLast):
            if isLast { liveness.dataMessage() }
            traffic.received(bytes: data.readableBytes)
            streamingHandler?.connection(self, didReceivePiece: WebSocketMessagePiece(
                kind: opcode == .text ? .text : .binary, data: data, isFirst: isFirst, isLast: isLast))
        case .ping:
            break // the engine queued the pong already
        case .pong(let payload):
            handler.connection(self, didReceivePong: payload)
        case .closed(let frame, let initiatedByPeer):
            execute(lifecycle.closeCompleted(frame, initiatedByPeer: initiatedByPeer), context: context)
        case .failed(let code, let reason):
            logger.info("failing WebSocket connection", metadata: [
                "code": "\(code.rawValue)", "reason": "\(reason)", "path": "\(request.path)", "peer": "\(peerDescription)",
            ])
            execute(lifecycle.protocolFailed(code: code, reason: reason, serviceBusy: handler.hasUnfinishedInbound),
                    context: context)
        }
    }

    // MARK: Close lifecycle

    /// Carries out what the close lifecycle decided.
    private func execute(_ actions: [CloseLifecycle.Action], context: ChannelHandlerContext) {
        for action in actions {
            switch action {
            case .writeClose(let frame):
                _ = wire.writeClose(frame)
            case .flush:
                flushOutput(context: context)
            case .closeAfterWrites:
                writeAllThen(context: context) { $0.close(promise: nil) }
            case .halfCloseAfterWrites:
                // Where the channel cannot half-close, the close timer ends it.
                writeAllThen(context: context) { $0.close(mode: .output, promise: nil) }
            case .closeNow:
                context.close(promise: nil)
            case .startTimer:
                closeTimer?.cancel()
                closeTimer = eventLoop.scheduleTask(in: options.closeTimeout) { [self] in
                    guard let context = self.context else { return }
                    execute(lifecycle.timerFired(), context: context)
                }
            case .cancelTimer:
                closeTimer?.cancel()
                closeTimer = nil
            case .keepReading:
                if readGate.forceOpen() { context.read() }
                if heldInput != nil {
                    // Closing: what the rate limit held back is read now (the peer's close may be in it).
                    rateLimitTimer?.cancel()
                    rateLimitTimer = nil
                    eventLoop.execute { [self] in if let context = self.context { resumeAfterThrottle(context: context) } }
                }
            case .notifyClosed(let outcome, let code, let initiator):
                if countedOpen, let metrics = options.metrics {
                    countedOpen = false
                    metrics.closed(code: code, initiator: initiator == .peer ? .peer : .gateway)
                }
                handler.connectionDidClose(self, info: outcome)
            }
        }
    }

    /// Writes and flushes what `wire.output` holds, then runs `then` once it has gone (or failed to).
    private func writeAllThen(context: ChannelHandlerContext, _ then: @escaping (ChannelHandlerContext) -> Void) {
        let done = eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(wire.output), promise: done)
        wire.output.clear()
        unflushed = false
        // The write completes on this event loop, where the context may be used.
        done.futureResult.assumeIsolated().whenComplete { _ in then(context) }
    }

    // MARK: Writing

    private func flushOutput(context: ChannelHandlerContext) {
        if options.metrics != nil, traffic.hasUnreported { reportTraffic(now: .now()) }
        if wire.output.readableBytes > 0 {
            context.write(wrapOutboundOut(wire.output), promise: nil)
            context.flush()
            // Unique again once the write completed synchronously, so the storage is reused.
            wire.output.clear()
        } else if unflushed {
            context.flush()
        }
        unflushed = false
    }

    /// Hands the tally to the metrics when `TrafficReporter` says it is due (at once when `now` is nil: the
    /// connection is ending), or schedules the report it asks for.
    private func reportTraffic(now: NIODeadline?) {
        guard let metrics = options.metrics else { return }
        switch traffic.step(now: now) {
        case .nothing:
            break
        case .report(let tally):
            metrics.record(tally)
        case .schedule(let deadline):
            // A scheduled callback with `self` as its handler: no allocation, unlike a closure task.
            if (try? eventLoop.scheduleCallback(at: deadline, handler: self)) == nil { traffic.scheduledReportDone() }
        }
    }

    /// Hands what `wire.output` holds to the channel (without flushing), so a buffer written next goes after it.
    private func writeOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if wire.output.readableBytes > 0 {
            context.write(wrapOutboundOut(wire.output), promise: promise)
            wire.output.clear()
            unflushed = true
        } else if let promise {
            context.write(wrapOutboundOut(ByteBuffer()), promise: promise)
            unflushed = true
        }
    }

    private func scheduleFlush() {
        guard !inReadBatch, !flushScheduled else { return }
        flushScheduled = true
        eventLoop.execute {
            self.flushScheduled = false
            if let context = self.context { self.flushOutput(context: context) }
        }
    }

    /// Pings a quiet peer, or closes a dead or idle connection (see `Liveness`).
    private func livenessTick() {
        let now = NIODeadline.now()
        defer {
            if liveness.compressionRestDue(now: now) { wire.rest() }
        }
        switch liveness.tick(now: now) {
        case .nothing:
            break
        case .ping:
            if wire.writePing(ByteBuffer()).isWritten, let context { flushOutput(context: context) }
        case .close(let code, let reason):
            logger.info("closing connection", metadata: ["code": "\(code.rawValue)", "reason": "\(reason)",
                                                         "path": "\(request.path)", "peer": "\(peerDescription)"])
            livenessTimer?.cancel()
            close(code: code, reason: reason)
        }
    }

    private var peerDescription: String { request.remoteAddress.map { "\($0)" } ?? "?" }

    /// A peer that does not read makes the socket unwritable; what services keep sending to it waits here.
    /// Past `maxSendQueueBytes` it gets close 1008 and nothing more is queued (the close frame waits its turn;
    /// the connection is dropped after `closeTimeout` if the peer never gets to it).
    private func enforceSendQueueLimit(context: ChannelHandlerContext) {
        guard !readGate.writable, options.maxSendQueueBytes != .max else { return }
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        let pending = buffered + wire.output.readableBytes
        guard pending > options.maxSendQueueBytes else { return }
        logger.warning("slow consumer disconnected", metadata: [
            "pending_bytes": "\(pending)", "limit": "\(options.maxSendQueueBytes)", "path": "\(request.path)",
            "peer": "\(peerDescription)",
        ])
        options.metrics?.sendQueueDropped()
        close(code: .policyViolation, reason: "send queue limit exceeded")
    }

    // MARK: WebSocketConnection

    @_specialize(exported: false, where Engine == RFC6455Connection)
    func send(_ message: WebSocketMessage, promise: EventLoopPromise<Void>?) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.send(message, promise: promise) }
            return
        }
        // Whether the connection may still send is the engine's answer to the write itself (asked once).
        guard let context else {
            promise?.fail(WebSocketTransportError.connectionClosed)
            return
        }
        let opcode: WebSocketOpcode = message.kind == .text ? .text : .binary
        if message.data.readableBytes >= options.largePayloadThreshold,
           wire.writeUnmaskedHeader(opcode, payloadLength: message.data.readableBytes) {
            writeOutput(context: context, promise: nil)
            context.write(wrapOutboundOut(message.data), promise: promise)
            unflushed = true
        } else {
            switch wire.writeMessage(opcode, payload: message.data) {
            case .written:
                if promise != nil { writeOutput(context: context, promise: promise) }
            case .refused(.notRepresentable):
                return refuseUnrepresentable(message, promise: promise)
            case .refused:
                promise?.fail(WebSocketTransportError.connectionClosed)
                return
            }
        }
        traffic.sent(bytes: message.data.readableBytes)
        liveness.dataMessage()
        scheduleFlush()
        enforceSendQueueLimit(context: context)
    }

    /// A message the wire cannot carry (binary that is not UTF-8, to a hixie client): refused with an error
    /// and a log line rather than altered or dropped unseen.
    private func refuseUnrepresentable(_ message: WebSocketMessage, promise: EventLoopPromise<Void>?) {
        logger.warning("message not sent: the wire cannot carry it", metadata: [
            "wire": "\(wire.engine.wireName)", "bytes": "\(message.data.readableBytes)", "path": "\(request.path)",
            "peer": "\(peerDescription)",
        ])
        promise?.fail(WebSocketTransportError.messageNotRepresentable(wire: wire.engine.wire))
    }

    @_specialize(exported: false, where Engine == RFC6455Connection)
    func send(_ prepared: PreparedMessage, promise: EventLoopPromise<Void>?) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.send(prepared, promise: promise) }
            return
        }
        guard let key = wire.engine.sharedEncodingKey else {
            // Client frames are masked with a fresh key each, and compressed frames depend on this
            // connection's compression history: nothing to share.
            send(prepared.message, promise: promise)
            return
        }
        guard let context, wire.engine.canSendMessages else {
            promise?.fail(WebSocketTransportError.connectionClosed)
            return
        }
        let frame = prepared.encoded(for: key) { message in
            // An empty buffer stands for "this wire cannot carry it" (no frame of any wire is empty).
            Engine.encodeShared(message.kind == .text ? .text : .binary, payload: message.data) ?? ByteBuffer()
        }
        guard frame.readableBytes > 0 else { return refuseUnrepresentable(prepared.message, promise: promise) }
        traffic.sent(bytes: prepared.message.data.readableBytes)
        if frame.readableBytes < options.largePayloadThreshold, promise == nil {
            wire.output.writeImmutableBuffer(frame)
        } else {
            writeOutput(context: context, promise: nil)
            context.write(wrapOutboundOut(frame), promise: promise)
            unflushed = true
        }
        liveness.dataMessage()
        scheduleFlush()
        enforceSendQueueLimit(context: context)
    }

    func ping(_ payload: ByteBuffer) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.ping(payload) }
            return
        }
        if wire.writePing(payload).isWritten { scheduleFlush() }
    }

    func close(code: CloseCode, reason: String) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.close(code: code, reason: reason) }
            return
        }
        guard let context else { return }
        execute(lifecycle.closeRequested(code: code, reason: reason), context: context)
    }

    func inboundDidDrain() {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.inboundDidDrain() }
            return
        }
        if let context { execute(lifecycle.inboundDrained(), context: context) }
    }

    func setReadingPaused(_ paused: Bool) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.setReadingPaused(paused) }
            return
        }
        if readGate.setPausedByService(paused), let context { context.read() }
    }
}

extension WebSocketChannelHandler: NIOScheduledCallbackHandler {
    /// The deferred traffic report (see `reportTraffic(now:)`).
    func handleScheduledCallback(eventLoop: some EventLoop) {
        traffic.scheduledReportDone()
        reportTraffic(now: .now())
    }
}

// MARK: Rate limit

extension WebSocketChannelHandler {
    /// `channelRead` for a service with an `InboundRateLimit`: messages are delivered until the limiter says
    /// stop; the rest of what was read is held (reading stops meanwhile) and delivered when the timer fires.
    private func readRateLimited(_ input: inout ByteBuffer, context: ChannelHandlerContext) {
        if heldInput != nil {
            // Throttled: what the last reads of the batch brought waits behind what is held.
            heldInput!.writeBuffer(&input)
            return
        }
        deliverRateLimited(&input, held: false, context: context)
    }

    /// Delivers messages from `input` while the limiter allows; holds the rest and pauses reading otherwise.
    /// `held`: `input` was read before the last throttle ended.
    private func deliverRateLimited(_ input: inout ByteBuffer, held: Bool, context: ChannelHandlerContext) {
        while let event = wire.read(from: &input) {
            perform(event, context: context)
            // A streamed message counts once, at its last piece; its bytes as they come.
            let size: Int, messages: Int
            switch event {
            case .message(_, let data): (size, messages) = (data.readableBytes, 1)
            case .messagePiece(_, let data, _, let isLast): (size, messages) = (data.readableBytes, isLast ? 1 : 0)
            default: continue
            }
            guard lifecycle.state == .open, rateLimiter != nil else { continue }
            switch rateLimiter!.delivered(size: size, messages: messages, now: .now(), waited: held) {
            case .within:
                continue
            case .throttle(let wait):
                options.metrics?.throttled()
                heldInput = input
                _ = readGate.setPausedByRateLimit(true)
                rateLimitTimer = eventLoop.scheduleTask(in: wait) { [self] in
                    rateLimitTimer = nil
                    guard let context = self.context else { return }
                    resumeAfterThrottle(context: context)
                }
                return
            case .exceeded:
                logger.info("rate limit exceeded", metadata: [
                    "path": "\(request.path)", "peer": "\(peerDescription)",
                    "limit": "\(rateLimiter!.limit.messagesPerSecond.map { "\($0) msg/s" } ?? "")\(rateLimiter!.limit.bytesPerSecond.map { " \($0) B/s" } ?? "")",
                ])
                // What was read still goes through the engine (framing stays intact) while the close handshake
                // runs; from here on unthrottled, so the peer's close is read.
                rateLimiter = nil
                execute(lifecycle.closeRequested(code: .policyViolation, reason: "rate limit exceeded"), context: context)
            }
        }
    }

    /// The throttle is over: deliver what was held, then read again unless the limiter stops it once more.
    private func resumeAfterThrottle(context: ChannelHandlerContext) {
        guard var input = heldInput else { return }
        heldInput = nil
        inReadBatch = true
        deliverRateLimited(&input, held: true, context: context)
        inReadBatch = false
        flushOutput(context: context)
        if heldInput == nil, readGate.setPausedByRateLimit(false) { context.read() }
    }
}
