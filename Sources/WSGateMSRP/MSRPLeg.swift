import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// One connection of the relay — a WebSocket client's, a TCP client's, or an outbound connection to a next hop —
/// as the relay sees it: somewhere chunks go, whole or streamed. What goes out is decided by an `MSRPOutbound`
/// (interruption, re-chunking for WebSocket legs); this class writes its actions, starts the relay's transaction
/// for each streamed piece, and keeps count of the bytes written but not yet on the socket, which is what pauses a
/// source that streams faster than this connection drains (`hasRoom`, `whenRoom`).
///
/// Called from any event loop (sources stream from their own): the state is behind a lock, and each call's writes
/// are issued under it, so they reach the connection in the order they were decided. Lock order: a leg's lock may
/// be held while the relay's is taken (to start a transaction), never the reverse.
final class MSRPLeg: Sendable {
    /// The connection under a leg: a TCP/TLS channel (`ChannelLegTransport`) or a WebSocket
    /// (`WebSocketLegTransport`). Its writes are made on its event loop.
    typealias Transport = MSRPLegTransport

    /// Bytes queued above which sources pause, and below which they resume: a few hundred KiB per connection,
    /// whatever the size of the chunks passing through.
    static let highWater = 256 << 10
    static let lowWater = 64 << 10
    /// A streamed chunk goes out on a TCP/TLS leg in pieces of this much body, each a transaction, and at most
    /// `pieceWindow` of them unanswered: the next hop's `200` to a piece says it has read it, so what sits in the
    /// kernel's buffers between the relay and a slow reader stays a few pieces — and a chat message that interrupts
    /// a transfer waits behind that, not behind megabytes (TCP's own buffers alone would hold several).
    static let pieceBytes = 64 << 10
    static let pieceWindow = 2

    let id: MSRPRelay.ConnectionID
    let transport: any Transport
    /// Strong: the relay drops its legs when their connections go, which breaks the cycle.
    private let relay: MSRPRelayService
    private let state: NIOLockedValueBox<State>

    private struct State {
        var outbound: MSRPOutbound
        /// Per open stream: what its pieces' transactions answer for.
        var sources: [MSRPOutbound.StreamID: (original: MSRPHead, source: MSRPRelay.ConnectionID)] = [:]
        var queued = 0
        var roomWaiters: [@Sendable () -> Void] = []
        var closed = false
        /// Bytes decided and not yet handed to the connection, in the order decided; only its event loop drains it.
        var outbox: [ByteBuffer] = []
        var drainScheduled = false
        /// The transaction ids of the pieces this leg cuts.
        var ids = TransactionIDRandom()
        /// Streamed pieces sent and not yet answered (only those whose Failure-Report asks for a response).
        var unanswered: Set<String> = []

        var hasRoom: Bool { closed || (queued < MSRPLeg.highWater && unanswered.count < MSRPLeg.pieceWindow) }
        var mayResume: Bool { closed || (queued < MSRPLeg.lowWater && unanswered.count < MSRPLeg.pieceWindow) }
    }

    init(id: MSRPRelay.ConnectionID, transport: any Transport, relay: MSRPRelayService) {
        self.id = id
        self.transport = transport
        self.relay = relay
        let framing: MSRPOutbound.Framing = transport.carriesMessages
            ? .messages(maxBytes: relay.settings.maxWebSocketMessage) : .stream(maxPieceBytes: Self.pieceBytes)
        state = NIOLockedValueBox(State(outbound: MSRPOutbound(framing: framing)))
    }

    /// The largest serialized chunk this leg carries in one piece (a WebSocket leg's message limit); nil: any.
    var maxChunkBytes: Int? { transport.carriesMessages ? relay.settings.maxWebSocketMessage : nil }

    /// A whole chunk: responses, REPORTs, requests that arrived whole (WebSocket messages). A streamed chunk on
    /// the wire is interrupted for it.
    func send(_ chunk: MSRPChunk) {
        let bytes = chunk.serialized()
        update { s, _ in s.outbound.send(whole: bytes) }
    }

    /// Starts forwarding a chunk whose body follows in pieces; nil when the leg is gone or the head's
    /// `Byte-Range` cannot be read.
    func beginStream(_ head: MSRPHead, original: MSRPHead, source: MSRPRelay.ConnectionID) -> MSRPOutbound.StreamID? {
        state.withLockedValue { s in
            guard !s.closed, let id = try? s.outbound.begin(head) else { return nil }
            s.sources[id] = (original, source)
            return id
        }
    }

    /// More of a streamed body. False when it cannot go on: the leg is gone, or the body outgrew its
    /// `Byte-Range` (the stream is then ended with `#`).
    @discardableResult
    func streamBody(_ stream: MSRPOutbound.StreamID, _ bytes: ByteBuffer) -> Bool {
        var ok = true
        update { s, generator in
            do {
                return try s.outbound.body(stream, bytes, generator: &generator)
            } catch {
                ok = false
                s.sources[stream] = nil
                return s.outbound.end(stream, .aborted, generator: &generator)
            }
        }
        return ok && !isClosed
    }

    /// The streamed chunk ended at its source with `flag` (`#` when the source aborted or vanished).
    func endStream(_ stream: MSRPOutbound.StreamID, _ flag: MSRPContinuation) {
        update { s, generator in
            defer { s.sources[stream] = nil }
            return s.outbound.end(stream, flag, generator: &generator)
        }
    }

    /// Whether the bytes queued for this connection are few enough for sources to go on streaming (a closed leg
    /// has room: what is sent to it goes nowhere, and its sources must not wait for it).
    var hasRoom: Bool { state.withLockedValue { $0.hasRoom } }

    var isClosed: Bool { state.withLockedValue { $0.closed } }

    /// Calls `resume` (on whatever thread drains the queue) once the queue fell below the low-water mark, or the
    /// leg closed; at once when that is already so.
    func whenRoom(_ resume: @escaping @Sendable () -> Void) {
        let now = state.withLockedValue { s -> Bool in
            if s.mayResume { return true }
            s.roomWaiters.append(resume)
            return false
        }
        if now { resume() }
    }

    /// Closes the connection after what was already written to it (a 400's answer goes out before the close).
    func close() {
        transport.eventLoop.execute {
            self.drain()
            self.transport.close()
        }
    }

    /// A response to `transactionID` came from this leg's peer, or the relay gave up waiting for one: if it was a
    /// streamed piece, the window has room for another.
    func answered(_ transactionID: String) {
        resumeWaiters { s in s.unanswered.remove(transactionID) != nil }
    }

    /// The connection is gone: waiting sources resume (and find it closed).
    func closed() {
        resumeWaiters { s in
            s.closed = true
            return true
        }
    }

    /// Applies `change` under the lock; when it changed something and there is room now, the waiting sources are
    /// taken from the state and resumed outside the lock.
    private func resumeWaiters(after change: (inout State) -> Bool) {
        let waiters = state.withLockedValue { s -> [@Sendable () -> Void] in
            guard change(&s), s.mayResume, !s.roomWaiters.isEmpty else { return [] }
            defer { s.roomWaiters = [] }
            return s.roomWaiters
        }
        for resume in waiters { resume() }
    }

    // MARK: Writing

    /// Runs a decision of the outbound machine and carries out its actions: transactions are started and the
    /// bytes put in the outbox under the lock, so they keep the order they were decided in whichever thread decided
    /// them. The connection's event loop drains the outbox — at once when the decision was made there (no task, no
    /// wake-up), else in a task scheduled for it — and writes outside the lock: a write that fails at once completes
    /// its promise on the spot, and that callback takes the lock.
    private func update(_ decide: (inout State, inout TransactionIDRandom) -> [MSRPOutbound.Action]) {
        let onLoop = transport.eventLoop.inEventLoop
        let schedule = state.withLockedValue { s -> Bool in
            guard !s.closed else { return false }
            let before = s.outbox.count
            var ids = s.ids
            let actions = decide(&s, &ids)
            s.ids = ids
            for action in actions {
                switch action {
                case .pieceStarted(let head, let stream):
                    if !transport.carriesMessages, MSRPRelay.wantsSuccessResponse(head) { s.unanswered.insert(head.transactionID) }
                    if let (original, source) = s.sources[stream] {
                        var quoted = original
                        quoted["Byte-Range"] = head["Byte-Range"]
                        relay.pieceSent(head, on: id, original: quoted, from: source)
                    }
                case .write(let bytes):
                    s.queued += bytes.readableBytes
                    s.outbox.append(bytes)
                }
            }
            guard s.outbox.count > before, !onLoop, !s.drainScheduled else { return false }
            s.drainScheduled = true
            return true
        }
        if onLoop {
            drain()
        } else if schedule {
            transport.eventLoop.execute { self.drain() }
        }
    }

    /// Writes what the outbox holds (on the connection's event loop).
    private func drain() {
        let batch = state.withLockedValue { s -> [ByteBuffer] in
            s.drainScheduled = false
            defer { s.outbox.removeAll(keepingCapacity: true) }
            return s.outbox
        }
        guard !batch.isEmpty else { return }
        for bytes in batch {
            let count = bytes.readableBytes
            let promise = transport.eventLoop.makePromise(of: Void.self)
            promise.futureResult.whenComplete { _ in self.written(count) }
            transport.write(bytes, promise: promise)
        }
        transport.flush()
    }

    private func written(_ count: Int) {
        resumeWaiters { s in
            s.queued -= count
            return true
        }
    }
}

/// What a leg writes to. Calls are made on `eventLoop`.
protocol MSRPLegTransport: Sendable {
    var eventLoop: any EventLoop { get }
    /// True for a WebSocket: each write is one message, one whole chunk (RFC 7977 §5.1).
    var carriesMessages: Bool { get }
    func write(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>)
    func flush()
    func close()
}

/// A TCP or TLS connection: the chunks are a byte stream.
struct ChannelLegTransport: MSRPLegTransport {
    let channel: any Channel
    var eventLoop: any EventLoop { channel.eventLoop }
    var carriesMessages: Bool { false }
    func write(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>) { channel.write(bytes, promise: promise) }
    func flush() { channel.flush() }
    func close() { channel.close(promise: nil) }
}

/// A WebSocket: one chunk per message, text when it is UTF-8 (RFC 7977 §4.2), binary otherwise.
struct WebSocketLegTransport: MSRPLegTransport {
    let connection: any WebSocketConnection
    var eventLoop: any EventLoop { connection.eventLoop }
    var carriesMessages: Bool { true }
    func write(_ bytes: ByteBuffer, promise: EventLoopPromise<Void>) {
        let text = bytes.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
        connection.send(WebSocketMessage(kind: text ? .text : .binary, data: bytes), promise: promise)
    }
    func flush() {} // a connection flushes at the end of its loop's turn
    func close() { connection.close(code: .policyViolation, reason: "MSRP protocol error") }
}
