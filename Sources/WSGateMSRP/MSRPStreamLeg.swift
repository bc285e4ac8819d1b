import Logging
import MSRPEngine
import NIOCore

/// A TCP (or TLS) leg: a client of the MSRP listener, or an outbound connection to a next hop. The stream is parsed
/// as it arrives, and a SEND is routed on its head: its body is forwarded piece by piece as it comes, so no chunk is
/// ever held whole, whatever its size (up to `maxStreamedChunkBytes`). Other chunks — responses, bodiless
/// requests, requests other than SEND — are small and taken whole, bounded by `limits.maxBodyBytes`.
///
/// Backpressure: when the leg a body streams to has a long queue, reading from this connection pauses until it
/// drains. While a new next hop's connection is being opened, reading pauses too, and what was read already waits.
/// A chunk whose end-line does not come within the transaction timeout of its last byte is ended with `#`
/// downstream and the connection closed; so is a chunk whose source vanishes, or that outgrows its Byte-Range.
final class MSRPStreamLeg: ChannelInboundHandler, @unchecked Sendable {
    // @unchecked Sendable: mutable state is touched on the channel's event loop only (callbacks from other loops
    // hop onto it first).
    typealias InboundIn = ByteBuffer

    private let relay: MSRPRelayService
    private var parser: MSRPParser
    /// The relay's handle on this connection, from the moment the handler is added until it goes.
    private(set) var leg: MSRPLeg?
    private var context: ChannelHandlerContext?
    private var chunk: Inbound = .betweenChunks
    /// Input held while reading is paused for a next hop being connected (at most what was already read).
    private var stalled: ByteBuffer?
    private var lastInput = NIODeadline.now()
    private var stallTimer: Scheduled<Void>?
    /// Reading paused by this handler (backpressure, a next hop being connected): no input then is not a stall.
    private var paused = false

    /// The chunk being read.
    private enum Inbound {
        case betweenChunks
        /// Taken whole: its head and the body so far.
        case whole(MSRPHead, body: ByteBuffer?)
        /// A SEND streaming to `target`; `success` goes back to this connection when it has ended.
        case streaming(MSRPHead, target: MSRPLeg, stream: MSRPOutbound.StreamID, success: MSRPHead?)
        /// A SEND waiting for its next hop's connection (reading paused).
        case connecting(MSRPHead)
        /// Refused, or its next hop is gone: the rest is read and dropped.
        case discarding(MSRPHead)
    }

    init(relay: MSRPRelayService) {
        self.relay = relay
        // The parser bounds every chunk by the streamed limit; chunks taken whole are bounded by `limits` here.
        var limits = relay.settings.limits
        limits.maxBodyBytes = relay.settings.maxStreamedChunkBytes
        self.parser = MSRPParser(limits: limits)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        leg = relay.register(ChannelLegTransport(channel: context.channel))
    }

    /// Also reached when an outbound connection never came up (no channelInactive then).
    func handlerRemoved(context: ChannelHandlerContext) {
        connectionGone()
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        connectionGone()
        context.fireChannelInactive()
    }

    /// A TLS handshake refused (an unknown CA, a wrong name), a reset: said in the log with the peer, since what
    /// the relay reports to a source for it is only that the next hop's connection was lost.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        relay.logger.info("MSRP connection failed", metadata: ["peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")",
                                                             "error": "\(error)"])
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        lastInput = .now()
        if stalled != nil {
            stalled!.writeBuffer(&input)
            return
        }
        consume(&input)
    }

    // MARK: Parsing

    private func consume(_ input: inout ByteBuffer) {
        guard let leg else { return }
        while let event = parser.next(&input) {
            switch event {
            case .failure(let reason):
                fail(reason, on: leg)
                return
            case .success(.head(let head, let hasBody)):
                began(head, hasBody: hasBody, on: leg)
                if case .connecting = chunk {
                    // Reading is paused; what is left waits for the next hop.
                    stalled = input
                    input = ByteBuffer()
                    return
                }
            case .success(.body(let piece)):
                body(piece, on: leg)
            case .success(.end(let flag)):
                ended(flag, on: leg)
            }
        }
    }

    private func began(_ head: MSRPHead, hasBody: Bool, on leg: MSRPLeg) {
        armStallTimer()
        guard head.method == "SEND", hasBody else {
            chunk = .whole(head, body: hasBody ? ByteBuffer() : nil)
            return
        }
        switch relay.routeStream(head, on: leg.id) {
        case .refused:
            chunk = .discarding(head)
        case .streaming(let target, let stream, let success):
            chunk = .streaming(head, target: target, stream: stream, success: success)
        case .connecting(let future, let forwarded, let original, let success):
            chunk = .connecting(head)
            setReading(false)
            let eventLoop = context!.eventLoop
            future.hop(to: eventLoop).whenComplete { result in
                guard case .connecting = self.chunk else { return }
                switch result {
                case .success(let target):
                    switch self.relay.beginStream(forwarded, on: target, original: original, source: leg.id, success: success) {
                    case .streaming(let target, let stream, let success):
                        self.chunk = .streaming(head, target: target, stream: stream, success: success)
                    default:
                        self.chunk = .discarding(head)
                    }
                case .failure:
                    self.chunk = .discarding(head) // the relay reported it to the source
                }
                self.resumeStalled()
            }
        }
    }

    private func body(_ piece: ByteBuffer, on leg: MSRPLeg) {
        switch chunk {
        case .whole(let head, var body?):
            var piece = piece
            body.writeBuffer(&piece)
            guard body.readableBytes <= relay.settings.limits.maxBodyBytes else {
                return fail(.bodyTooLarge, on: leg)
            }
            chunk = .whole(head, body: body)
        case .streaming(let head, let target, let stream, _):
            guard target.streamBody(stream, piece) else {
                if target.isClosed {
                    chunk = .discarding(head)
                } else {
                    relay.logger.info("MSRP chunk longer than its Byte-Range", metadata: ["byte_range": "\(head["Byte-Range"] ?? "")"])
                    relay.respond(MSRPRelay.response(to: head, 400, "Bad Request"), on: leg.id)
                    chunk = .discarding(head)
                }
                return
            }
            if !target.hasRoom {
                setReading(false)
                let eventLoop = context!.eventLoop
                target.whenRoom { eventLoop.execute { self.setReading(true) } }
            }
        case .whole, .betweenChunks, .connecting, .discarding:
            return
        }
    }

    private func ended(_ flag: MSRPContinuation, on leg: MSRPLeg) {
        let finished = chunk
        chunk = .betweenChunks
        stallTimer?.cancel()
        stallTimer = nil
        switch finished {
        case .whole(let head, let body):
            // A response from this connection's peer: if it answers a streamed piece, the piece window moves.
            if head.statusCode != nil { leg.answered(head.transactionID) }
            relay.received(MSRPChunk(head: head, body: body, continuation: flag), on: leg.id)
        case .streaming(_, let target, let stream, let success):
            target.endStream(stream, flag)
            if let success { relay.respond(success, on: leg.id) }
        case .betweenChunks, .connecting, .discarding:
            return
        }
    }

    /// Input that is not MSRP: a streamed chunk is ended with `#` downstream, then the relay answers and closes.
    private func fail(_ reason: MSRPParser.Failure, on leg: MSRPLeg) {
        let partialHead: MSRPHead?
        switch chunk {
        case .whole(let head, _), .connecting(let head): partialHead = head
        case .discarding: partialHead = nil // answered already
        case .streaming(let head, let target, let stream, _):
            target.endStream(stream, .aborted)
            partialHead = head
        case .betweenChunks: partialHead = nil
        }
        chunk = .betweenChunks
        relay.malformed(.init(reason: reason, partialHead: partialHead), on: leg.id)
    }

    // MARK: Pausing

    private func setReading(_ on: Bool) {
        paused = !on
        if on { lastInput = .now() }
        guard let context else { return }
        context.channel.setOption(ChannelOptions.autoRead, value: on).whenFailure { _ in }
    }

    private func resumeStalled() {
        guard var input = stalled else { return }
        stalled = nil
        consume(&input)
        if stalled == nil { setReading(true) }
    }

    // MARK: A chunk that never ends

    /// A chunk must keep coming: no byte of it for the transaction timeout and it is given up.
    private func armStallTimer() {
        guard stallTimer == nil, let context else { return }
        let timeout = Self.timeAmount(relay.settings.transactionTimeout)
        stallTimer = context.eventLoop.scheduleTask(deadline: max(lastInput, .now()) + timeout) { [self] in
            stallTimer = nil
            if case .betweenChunks = chunk { return }
            // Waiting on a next hop is not the sender's stall; a byte since the timer was set restarts it.
            if paused || stalled != nil || NIODeadline.now() < lastInput + timeout { return armStallTimer() }
            relay.logger.info("MSRP chunk stalled: no byte of it within the transaction timeout; closing the connection")
            if case .streaming(_, let target, let stream, _) = chunk { target.endStream(stream, .aborted) }
            chunk = .betweenChunks
            self.context?.close(promise: nil)
        }
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    private func connectionGone() {
        stallTimer?.cancel()
        stallTimer = nil
        if case .streaming(_, let target, let stream, _) = chunk {
            // The sender vanished mid-chunk: the receiver's partial message is ended (`#`, RFC 4975 §7.1).
            relay.logger.info("MSRP sender gone in the middle of a chunk; ending it with #")
            target.endStream(stream, .aborted)
        }
        chunk = .betweenChunks
        if let leg { relay.unregister(leg) }
        leg = nil
    }
}
