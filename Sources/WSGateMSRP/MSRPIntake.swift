import Logging
import MSRPEngine
import NIOCore

/// What reads MSRP from one connection of the relay, whichever carries it — a TCP/TLS stream (`MSRPStreamLeg`) or a
/// WebSocket's messages (`MSRPWebSocketLeg`, one chunk per message, large ones arriving in pieces). The input is
/// parsed as it arrives and a SEND is routed on its head: its body is forwarded piece by piece as it comes, so no
/// chunk is ever held whole, whatever its size (up to `maxStreamedChunkBytes`). Other chunks — responses, bodiless
/// requests, requests other than SEND — are small and taken whole, bounded by `limits.maxBodyBytes`.
///
/// Backpressure: when the leg a body streams to has a long queue, reading from this connection pauses until it
/// drains. While a new next hop's connection is being opened, reading pauses too, and what was read already waits.
/// A chunk whose end-line does not come within the transaction timeout of its last byte is ended with `#`
/// downstream and the connection closed; so is a chunk whose source vanishes, or that outgrows its Byte-Range.
///
/// Used on its connection's event loop only; callbacks from other loops hop onto it first.
final class MSRPIntake {
    /// How the connection delimits chunks.
    enum Framing {
        /// A byte stream (TCP, TLS): chunks follow one another.
        case stream
        /// WebSocket messages, each exactly one chunk (RFC 7977 §5.1): anything else is malformed.
        case oneChunkPerMessage
    }

    let leg: MSRPLeg
    private let relay: MSRPRelayService
    private let framing: Framing
    private let eventLoop: any EventLoop
    /// Pauses (false) or resumes (true) reading from the connection.
    private let setConnectionReading: (Bool) -> Void
    private let closeConnection: () -> Void
    private var parser: MSRPParser
    private var chunk: Inbound = .betweenChunks
    /// Input held while reading is paused for a next hop being connected (at most what was already read), with
    /// the message boundaries it carried.
    private var stalled: [Input]?
    private var lastInput = NIODeadline.now()
    private var stallTimer: Scheduled<Void>?
    /// Reading paused by this intake (backpressure, a next hop being connected): no input then is not a stall.
    private var paused = false
    /// Chunks ended since the current WebSocket message began (`oneChunkPerMessage`).
    private var chunksInMessage = 0
    /// Set once the input was found malformed: the relay answered and closes the connection; the rest is ignored.
    private var failed = false
    private var gone = false

    /// Bytes read, and whether they begin or end a WebSocket message.
    private struct Input {
        var bytes: ByteBuffer
        var startsMessage: Bool
        var endsMessage: Bool
    }

    /// The chunk being read.
    private enum Inbound {
        case betweenChunks
        /// Taken whole: its head and the body so far.
        case whole(MSRPHead, body: ByteBuffer?)
        /// A SEND whose body has begun in this read: forwarded whole if its end-line comes in the same read (and
        /// within `wholeSendBytes`), streamed otherwise.
        case pending(MSRPHead, body: ByteBuffer)
        /// A SEND streaming to `target`; `success` goes back to this connection when it has ended.
        case streaming(MSRPHead, target: MSRPLeg, stream: MSRPOutbound.StreamID, success: MSRPHead?)
        /// A SEND waiting for its next hop's connection (reading paused).
        case connecting(MSRPHead)
        /// Refused, or its next hop is gone: the rest is read and dropped. `success`: the `200` still due to the
        /// source when the chunk has ended (its next hop could not be reached: the REPORT says so, as for a whole
        /// chunk); nil when the relay answered already.
        case discarding(MSRPHead, success: MSRPHead? = nil)
    }

    init(relay: MSRPRelayService, leg: MSRPLeg, framing: Framing, eventLoop: any EventLoop,
         setReading: @escaping (Bool) -> Void, close: @escaping () -> Void) {
        self.relay = relay
        self.leg = leg
        self.framing = framing
        self.eventLoop = eventLoop
        self.setConnectionReading = setReading
        self.closeConnection = close
        // The parser bounds every chunk by the streamed limit; chunks taken whole are bounded by `limits` here.
        var limits = relay.settings.limits
        limits.maxBodyBytes = relay.settings.maxStreamedChunkBytes
        self.parser = MSRPParser(limits: limits)
    }

    /// Bytes from the connection; for WebSocket messages, whether they begin and end one.
    func receive(_ bytes: ByteBuffer, startsMessage: Bool = false, endsMessage: Bool = false) {
        lastInput = .now()
        let input = Input(bytes: bytes, startsMessage: startsMessage, endsMessage: endsMessage)
        if stalled != nil {
            stalled!.append(input)
            return
        }
        consume(input)
    }

    // MARK: Parsing

    private func consume(_ unit: Input) {
        guard !failed, !gone else { return }
        var input = unit.bytes
        if unit.startsMessage { chunksInMessage = 0 }
        while let event = parser.next(&input) {
            switch event {
            case .failure(let reason):
                return fail(reason)
            case .success(.head(let head, let hasBody)):
                if framing == .oneChunkPerMessage, chunksInMessage > 0 {
                    return fail(Self.notOneChunk)
                }
                began(head, hasBody: hasBody)
            case .success(.body(let piece)):
                body(piece)
            case .success(.end(let flag)):
                chunksInMessage += 1
                ended(flag)
            }
            if failed { return }
            if case .connecting = chunk {
                // Reading is paused; what is left waits for the next hop.
                stalled = [Input(bytes: input, startsMessage: false, endsMessage: unit.endsMessage)]
                return
            }
        }
        if unit.endsMessage, chunksInMessage != 1 || !parser.isIdle {
            return fail(Self.notOneChunk)
        }
        // The read is over with a SEND still coming: it streams from here, unless its Byte-Range says it is small
        // (then it is waited for whole, so a lie about its length is refused before any of it goes on).
        if case .pending(let head, let body) = chunk, !Self.declaresWholeSend(head) { startStreaming(head, held: body) }
        if case .connecting = chunk { stalled = [] }
        if case .betweenChunks = chunk {} else { armStallTimer() }
    }

    private static let notOneChunk = MSRPParser.Failure.malformedStartLine("a WebSocket message must carry exactly one MSRP chunk")

    /// A SEND whose body is at most this long when its end-line arrives in the same read goes on whole (one decision,
    /// one write: a chat message); a longer one, or one that outlasts the read, streams — except one whose Byte-Range
    /// declares it this short, which is waited for whole however the reads split it.
    private static let wholeSendBytes = MSRPLeg.pieceBytes

    /// Whether a SEND's Byte-Range declares a chunk short enough to be taken whole (`1-10/10`, not `1-*/*`).
    private static func declaresWholeSend(_ head: MSRPHead) -> Bool {
        guard let range = head["Byte-Range"].flatMap(ByteRange.init(parsing:)), let end = range.end else { return false }
        return end - range.start + 1 <= wholeSendBytes
    }

    private func began(_ head: MSRPHead, hasBody: Bool) {
        guard head.method == "SEND", hasBody else {
            chunk = .whole(head, body: hasBody ? ByteBuffer() : nil)
            return
        }
        chunk = .pending(head, body: ByteBuffer())
    }

    /// Routes a SEND on its head and forwards `held`, the body read so far.
    private func startStreaming(_ head: MSRPHead, held: ByteBuffer) {
        switch relay.routeStream(head, on: leg.id) {
        case .refused:
            chunk = .discarding(head)
        case .streaming(let target, let stream, let success):
            chunk = .streaming(head, target: target, stream: stream, success: success)
            if held.readableBytes > 0 { body(held) }
        case .connecting(let future, let forwarded, let original, let success):
            chunk = .connecting(head)
            setReading(false)
            let source = leg.id
            let me = NIOLoopBound(self, eventLoop: eventLoop)
            future.hop(to: eventLoop).whenComplete { result in
                let `self` = me.value
                guard case .connecting = self.chunk else { return }
                switch result {
                case .success(let target):
                    switch self.relay.beginStream(forwarded, on: target, original: original, source: source, success: success) {
                    case .streaming(let target, let stream, let success):
                        self.chunk = .streaming(head, target: target, stream: stream, success: success)
                        if held.readableBytes > 0 { self.body(held) }
                    default:
                        self.chunk = .discarding(head, success: success)
                    }
                case .failure:
                    self.chunk = .discarding(head, success: success) // the relay reported it to the source
                }
                self.resumeStalled()
            }
        }
    }

    private func body(_ piece: ByteBuffer) {
        switch chunk {
        case .whole(let head, var body?):
            var piece = piece
            body.writeBuffer(&piece)
            guard body.readableBytes <= relay.settings.limits.maxBodyBytes else {
                return fail(.bodyTooLarge)
            }
            chunk = .whole(head, body: body)
        case .pending(let head, var body):
            chunk = .betweenChunks // the held body is not shared while it grows
            var piece = piece
            body.writeBuffer(&piece)
            if !Self.fitsItsByteRange(head, bodyLength: body.readableBytes) {
                refuseLongerThanByteRange(head)
                chunk = .discarding(head)
            } else if body.readableBytes > Self.wholeSendBytes {
                startStreaming(head, held: body)
            } else {
                chunk = .pending(head, body: body)
            }
        case .streaming(let head, let target, let stream, _):
            guard target.streamBody(stream, piece) else {
                if target.isClosed {
                    chunk = .discarding(head)
                } else {
                    refuseLongerThanByteRange(head)
                    chunk = .discarding(head)
                }
                return
            }
            if !target.hasRoom { pauseUntilRoom(on: target) }
        case .whole, .betweenChunks, .connecting, .discarding:
            return
        }
    }

    /// A body longer than its Byte-Range says: `400`, and nothing more of it goes on (a streamed chunk is ended
    /// downstream by `MSRPOutbound`).
    private func refuseLongerThanByteRange(_ head: MSRPHead) {
        relay.logger.info("MSRP chunk longer than its Byte-Range", metadata: ["byte_range": "\(head["Byte-Range"] ?? "")"])
        relay.respond(MSRPRelay.response(to: head, 400, "Bad Request"), on: leg.id)
    }

    /// Whether a whole body is no longer than its Byte-Range's end allows (the routing checked the range parses).
    private static func fitsItsByteRange(_ head: MSRPHead, bodyLength: Int) -> Bool {
        guard let range = head["Byte-Range"].flatMap(ByteRange.init(parsing:)), let end = range.end else { return true }
        return bodyLength <= end - range.start + 1
    }

    /// Stops reading from this connection until `target`'s queue has drained.
    private func pauseUntilRoom(on target: MSRPLeg) {
        setReading(false)
        let me = NIOLoopBound(self, eventLoop: eventLoop)
        target.whenRoom { me.eventLoop.execute { me.value.setReading(true) } }
    }

    private func ended(_ flag: MSRPContinuation) {
        let finished = chunk
        chunk = .betweenChunks
        stallTimer?.cancel()
        stallTimer = nil
        switch finished {
        case .whole(let head, let body):
            // A response from this connection's peer: if it answers a streamed piece, the piece window moves.
            if head.statusCode != nil { leg.answered(head.transactionID) }
            relay.received(MSRPChunk(head: head, body: body, continuation: flag), on: leg.id)
        case .pending(let head, let body):
            // A SEND taken whole (its body checked against its Byte-Range as it grew): forwarded whole; a next hop
            // that drains slower than this sender pauses it.
            if let target = relay.received(MSRPChunk(head: head, body: body, continuation: flag), on: leg.id), !target.hasRoom {
                pauseUntilRoom(on: target)
            }
        case .streaming(_, let target, let stream, let success):
            target.endStream(stream, flag)
            if let success { relay.respond(success, on: leg.id) }
        case .discarding(_, let success?):
            relay.respond(success, on: leg.id)
        case .betweenChunks, .connecting, .discarding:
            return
        }
    }

    /// Input that is not MSRP: a streamed chunk is ended with `#` downstream, then the relay answers and closes.
    private func fail(_ reason: MSRPParser.Failure) {
        let partialHead: MSRPHead?
        switch chunk {
        case .whole(let head, _), .pending(let head, _), .connecting(let head): partialHead = head
        case .discarding: partialHead = nil // answered already
        case .streaming(let head, let target, let stream, _):
            target.endStream(stream, .aborted)
            partialHead = head
        case .betweenChunks: partialHead = nil
        }
        chunk = .betweenChunks
        failed = true
        stalled = nil
        stallTimer?.cancel()
        stallTimer = nil
        relay.malformed(.init(reason: reason, partialHead: partialHead), on: leg.id)
    }

    // MARK: Pausing

    private func setReading(_ on: Bool) {
        paused = !on
        if on { lastInput = .now() }
        setConnectionReading(on)
    }

    private func resumeStalled() {
        guard var pending = stalled else { return }
        stalled = nil
        while !pending.isEmpty {
            consume(pending.removeFirst())
            if stalled != nil {
                // Stalled again (another next hop): the rest waits behind what this input left.
                stalled! += pending
                return
            }
        }
        setReading(true)
    }

    // MARK: A chunk that never ends

    /// A chunk must keep coming: no byte of it for the transaction timeout and it is given up.
    private func armStallTimer() {
        guard stallTimer == nil else { return }
        let timeout = Self.timeAmount(relay.settings.transactionTimeout)
        let me = NIOLoopBound(self, eventLoop: eventLoop)
        stallTimer = eventLoop.scheduleTask(deadline: max(lastInput, .now()) + timeout) {
            me.value.stallTimerFired(timeout: timeout)
        }
    }

    private func stallTimerFired(timeout: TimeAmount) {
        stallTimer = nil
        if case .betweenChunks = chunk { return }
        // Waiting on a next hop is not the sender's stall; a byte since the timer was set restarts it.
        if paused || stalled != nil || NIODeadline.now() < lastInput + timeout { return armStallTimer() }
        relay.logger.info("MSRP chunk stalled: no byte of it within the transaction timeout; closing the connection")
        if case .streaming(_, let target, let stream, _) = chunk { target.endStream(stream, .aborted) }
        chunk = .betweenChunks
        closeConnection()
    }

    static func timeAmount(_ duration: Duration) -> TimeAmount {
        .nanoseconds(duration.components.seconds * 1_000_000_000 + duration.components.attoseconds / 1_000_000_000)
    }

    /// The connection is gone: a chunk streaming from it is ended (`#`) and the leg leaves the relay. Once.
    func connectionGone() {
        guard !gone else { return }
        gone = true
        stallTimer?.cancel()
        stallTimer = nil
        if case .streaming(_, let target, let stream, _) = chunk {
            // The sender vanished mid-chunk: the receiver's partial message is ended (`#`, RFC 4975 §7.1).
            relay.logger.info("MSRP sender gone in the middle of a chunk; ending it with #")
            target.endStream(stream, .aborted)
        }
        chunk = .betweenChunks
        stalled = nil
        relay.unregister(leg)
    }
}
