import Logging
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// Drives a wire's engine (`RFC6455Connection`, or `HixieConnection` for the drafts) on a channel after the
/// opening handshake, for servers and clients alike, and is the `WebSocketConnection` services see. Generic
/// over the engine so each wire's hot path is specialised, not dispatched.
///
/// Writes made while a read batch is processed accumulate in one buffer that is written and flushed once
/// at `channelReadComplete`; writes from elsewhere are coalesced into one flush per event-loop tick.
/// Reading stops while the socket is not writable or the service paused it, so a peer that does not read
/// cannot make the gateway buffer without bound.
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
    }

    let request: WebSocketRequest
    let eventLoop: any EventLoop
    private var engine: Engine
    private let handler: any WebSocketHandler
    private let options: Options
    private let logger: Logger

    private var context: ChannelHandlerContext?
    private var output = ByteBuffer()
    private var unflushed = false
    private var inReadBatch = false
    private var flushScheduled = false
    private var pausedByService = false
    private var readPending = false
    private var writable = true
    private var closeInfo: WebSocketCloseInfo?
    private var notifiedClose = false
    private var closeTimer: Scheduled<Void>?
    private var liveness: Liveness
    private var livenessTimer: RepeatedTask?
    /// Traffic not yet reported to `options.metrics`. The metrics are shared by every connection of a service
    /// across event loops, so a connection reports at most once per `trafficReportInterval` (a flush reports
    /// if that long has passed, else schedules one report for when it has): contention stays bounded under any
    /// message rate while the figures are never more than that interval old.
    private var traffic = TrafficTally()
    private var nextTrafficReport = NIODeadline.uptimeNanoseconds(0)
    private var trafficReportScheduled = false
    static var trafficReportInterval: TimeAmount { .milliseconds(100) }
    /// How the connection is ending, once known: the first close frame's code and who sent it.
    private var closeRecord: (code: UInt16, initiator: ServiceMetrics.Initiator)?
    private var countedOpen = false

    init(engine: Engine, request: WebSocketRequest, handler: any WebSocketHandler,
         eventLoop: any EventLoop, options: Options, logger: Logger) {
        self.request = request
        self.eventLoop = eventLoop
        self.engine = engine
        self.handler = handler
        var options = options
        // A wire without pings (the hixie drafts) cannot be kept alive or probed; the idle timeout still applies.
        if !engine.canPing { options.liveness.pingInterval = nil }
        self.options = options
        self.logger = logger
        self.liveness = Liveness(configuration: options.liveness, now: .now())
    }

    var isWritable: Bool { writable }

    // MARK: Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        writable = context.channel.isWritable
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
        self.context = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        liveness.frameReceived()
        var input = unwrapInboundIn(data)
        inReadBatch = true
        while let action = engine.read(from: &input, output: &output) {
            perform(action, context: context)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadBatch = false
        flushOutput(context: context)
        context.fireChannelReadComplete()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        livenessTimer?.cancel()
        engine.connectionEnded()
        reportTraffic(now: nil)
        if countedOpen, let metrics = options.metrics {
            countedOpen = false
            metrics.closed(code: closeRecord?.code ?? engine.closeAtEndOfStream.code, initiator: closeRecord?.initiator ?? .peer)
        }
        let end = engine.closeAtEndOfStream
        notifyClosed(closeInfo ?? WebSocketCloseInfo(code: end.code, reason: "", wasClean: end.clean))
        context.fireChannelInactive()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        writable = context.channel.isWritable
        if writable { resumeReadingIfPossible(context: context) }
        handler.connectionWritabilityDidChange(self)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("connection error", metadata: ["error": "\(error)", "path": "\(request.path)"])
        context.close(promise: nil)
    }

    func read(context: ChannelHandlerContext) {
        if pausedByService || !writable {
            readPending = true
        } else {
            context.read()
        }
    }

    private func resumeReadingIfPossible(context: ChannelHandlerContext) {
        if readPending, !pausedByService, writable {
            readPending = false
            context.read()
        }
    }

    // MARK: Engine actions

    private func perform(_ action: RFC6455Connection.InboundAction, context: ChannelHandlerContext) {
        switch action {
        case .message(let opcode, let data):
            liveness.dataMessage()
            traffic.received(bytes: data.readableBytes)
            handler.connection(self, didReceive: WebSocketMessage(kind: opcode == .text ? .text : .binary, data: data))
        case .ping, .pong:
            break // the engine queued the pong already
        case .closed(let frame, let initiatedByPeer):
            closeInfo = WebSocketCloseInfo(code: frame.code?.rawValue ?? CloseCode.noStatusReceived.rawValue,
                                           reason: frame.reason, wasClean: true)
            if initiatedByPeer, closeRecord == nil { closeRecord = (closeInfo!.code, .peer) }
            if engine.role == .server {
                closeAfterWrites(context: context)
            } else {
                // §7.1.1: the server closes TCP first; the client only waits so long for it.
                flushOutput(context: context)
                startCloseTimer(context: context)
            }
        case .failed(let code, let reason):
            logger.info("failing WebSocket connection", metadata: [
                "code": "\(code.rawValue)", "reason": "\(reason)", "path": "\(request.path)",
                "peer": "\(request.remoteAddress.map { "\($0)" } ?? "?")",
            ])
            closeInfo = WebSocketCloseInfo(code: code.rawValue, reason: reason, wasClean: false)
            if closeRecord == nil { closeRecord = (code.rawValue, .gateway) }
            if handler.hasUnfinishedInbound {
                // Let the service answer what it was given before the bad frame, then fail (bounded wait).
                closeTimer = eventLoop.scheduleTask(in: options.closeTimeout) { self.completeFailure(context: context) }
            } else {
                completeFailure(context: context)
            }
        }
    }

    /// Sends the close frame of a protocol failure and drops the connection once it is written.
    private func completeFailure(context: ChannelHandlerContext) {
        guard let failure = engine.inputFailure else { return }
        closeTimer?.cancel()
        engine.writeClose(failure, into: &output)
        closeAfterWrites(context: context)
    }

    private func notifyClosed(_ info: WebSocketCloseInfo) {
        guard !notifiedClose else { return }
        notifiedClose = true
        handler.connectionDidClose(self, info: info)
    }

    // MARK: Writing

    private func flushOutput(context: ChannelHandlerContext) {
        if options.metrics != nil, !traffic.isEmpty { reportTraffic(now: .now()) }
        if output.readableBytes > 0 {
            context.write(wrapOutboundOut(output), promise: nil)
            context.flush()
            // Unique again once the write completed synchronously, so the storage is reused.
            output.clear()
        } else if unflushed {
            context.flush()
        }
        unflushed = false
    }

    /// Hands the tally to the metrics if `trafficReportInterval` has passed since the last report (or at once
    /// when `now` is nil: the connection is ending), else makes sure a report is scheduled for then.
    private func reportTraffic(now: NIODeadline?) {
        guard let metrics = options.metrics, !traffic.isEmpty else { return }
        if let now, now < nextTrafficReport {
            if !trafficReportScheduled {
                // A scheduled callback with `self` as its handler: no allocation, unlike a closure task.
                trafficReportScheduled = (try? eventLoop.scheduleCallback(at: nextTrafficReport, handler: self)) != nil
            }
            return
        }
        metrics.record(traffic)
        traffic = TrafficTally()
        nextTrafficReport = (now ?? .now()) + Self.trafficReportInterval
    }

    /// Hands what `output` holds to the channel (without flushing), so a buffer written next goes after it.
    private func writeOutput(context: ChannelHandlerContext, promise: EventLoopPromise<Void>?) {
        if output.readableBytes > 0 {
            context.write(wrapOutboundOut(output), promise: promise)
            output.clear()
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

    private func closeAfterWrites(context: ChannelHandlerContext) {
        let done = eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(output), promise: done)
        output.clear()
        unflushed = false
        done.futureResult.whenComplete { _ in context.close(promise: nil) }
    }

    private func startCloseTimer(context: ChannelHandlerContext) {
        closeTimer?.cancel()
        closeTimer = eventLoop.scheduleTask(in: options.closeTimeout) {
            context.close(promise: nil)
        }
    }

    /// Pings a quiet peer, or closes a dead or idle connection (see `Liveness`).
    private func livenessTick() {
        switch liveness.tick(now: .now()) {
        case .nothing:
            break
        case .ping:
            if engine.writePing(ByteBuffer(), into: &output), let context { flushOutput(context: context) }
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
        guard !writable, options.maxSendQueueBytes != .max else { return }
        let buffered = (try? context.channel.syncOptions?.getOption(.bufferedWritableBytes)) ?? 0
        let pending = buffered + output.readableBytes
        guard pending > options.maxSendQueueBytes else { return }
        logger.warning("slow consumer disconnected", metadata: [
            "pending_bytes": "\(pending)", "limit": "\(options.maxSendQueueBytes)", "path": "\(request.path)",
            "peer": "\(peerDescription)",
        ])
        options.metrics?.sendQueueDropped()
        close(code: .policyViolation, reason: "send queue limit exceeded")
    }

    // MARK: WebSocketConnection

    func send(_ message: WebSocketMessage, promise: EventLoopPromise<Void>?) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.send(message, promise: promise) }
            return
        }
        guard let context, engine.canSendMessages else {
            promise?.fail(WebSocketTransportError.connectionClosed)
            return
        }
        let opcode: WebSocketOpcode = message.kind == .text ? .text : .binary
        if message.data.readableBytes >= options.largePayloadThreshold,
           engine.writeUnmaskedHeader(opcode, payloadLength: message.data.readableBytes, into: &output) {
            writeOutput(context: context, promise: nil)
            context.write(wrapOutboundOut(message.data), promise: promise)
            unflushed = true
        } else if engine.writeMessage(opcode, payload: message.data, into: &output) {
            if promise != nil { writeOutput(context: context, promise: promise) }
        } else {
            refuseUnrepresentable(message, promise: promise)
            return
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
            "wire": "\(engine.wireName)", "bytes": "\(message.data.readableBytes)", "path": "\(request.path)",
            "peer": "\(peerDescription)",
        ])
        promise?.fail(WebSocketTransportError.messageNotRepresentable(wire: engine.wireName))
    }

    func send(_ prepared: PreparedMessage, promise: EventLoopPromise<Void>?) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.send(prepared, promise: promise) }
            return
        }
        guard let key = engine.sharedEncodingKey else {
            // Client frames are masked with a fresh key each, and compressed frames depend on this
            // connection's compression history: nothing to share.
            send(prepared.message, promise: promise)
            return
        }
        guard let context, engine.canSendMessages else {
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
            output.writeImmutableBuffer(frame)
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
        if engine.writePing(payload, into: &output) { scheduleFlush() }
    }

    func close(code: CloseCode, reason: String) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.close(code: code, reason: reason) }
            return
        }
        guard let context, engine.writeClose(CloseFrame(code: code, reason: reason), into: &output) else { return }
        if closeRecord == nil { closeRecord = (code.rawValue, .gateway) }
        if engine.closesByDroppingConnection {
            // hixie-75: no close frame. A server closes TCP once what it sent is out; a client half-closes, so
            // replies to what it sent still arrive, and reads until the server closes (bounded by the timer).
            closeInfo = closeInfo ?? WebSocketCloseInfo(code: code.rawValue, reason: reason, wasClean: true)
            if engine.role == .server {
                closeAfterWrites(context: context)
            } else {
                let written = eventLoop.makePromise(of: Void.self)
                context.writeAndFlush(wrapOutboundOut(output), promise: written)
                output.clear()
                written.futureResult.whenComplete { _ in context.close(mode: .output, promise: nil) }
                closeTimer?.cancel()
                closeTimer = eventLoop.scheduleTask(in: options.closeTimeout) {
                    // The server never closed: what it had still to send is lost, so this is no clean close.
                    self.closeInfo = WebSocketCloseInfo(code: CloseCode.abnormalClosure.rawValue,
                                                        reason: "the server did not close in time", wasClean: false)
                    context.close(promise: nil)
                }
                pausedByService = false
                resumeReadingIfPossible(context: context)
            }
            return
        }
        flushOutput(context: context)
        startCloseTimer(context: context)
        // The peer's close reply must be read even if the service had paused reading.
        pausedByService = false
        resumeReadingIfPossible(context: context)
    }

    func inboundDidDrain() {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.inboundDidDrain() }
            return
        }
        if let context, engine.inputFailure != nil, engine.state == .open { completeFailure(context: context) }
    }

    func setReadingPaused(_ paused: Bool) {
        guard eventLoop.inEventLoop else {
            eventLoop.execute { self.setReadingPaused(paused) }
            return
        }
        pausedByService = paused
        if !paused, let context { resumeReadingIfPossible(context: context) }
    }
}

extension WebSocketChannelHandler: NIOScheduledCallbackHandler {
    /// The deferred traffic report (see `reportTraffic(now:)`).
    func handleScheduledCallback(eventLoop: some EventLoop) {
        trafficReportScheduled = false
        reportTraffic(now: .now())
    }
}
