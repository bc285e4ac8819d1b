/// How one WebSocket connection ends, for every wire and both roles, as a struct state machine: the transport
/// tells it what happened (the engine's close and failure events, the service's close, the close timer, the
/// end of the TCP stream) and carries out the actions it returns. It holds no socket and no clock; the one
/// timer it asks for is the transport's close timeout.
///
/// The paths it decides:
/// - **The peer closes** (RFC 6455 / hixie-76 close frame, WSR `deleteStream`): a server closes TCP once the
///   engine's reply is written; a client waits for the server to close TCP (RFC 6455 §7.1.1), bounded by the timer.
/// - **We close** (the service, keep-alive, shutdown, a slow consumer): the close is written and the peer's
///   awaited, bounded by the timer (a peer that never answers ends as 1006). On wires without a close frame
///   (hixie-75, WSR) a server closes TCP once what it sent is out, and a client half-closes its output so
///   replies still on their way arrive, reading until the server closes — or reporting 1006 when it never does.
/// - **The peer breaks the protocol**: the failure's close goes out — after the service has finished with the
///   messages delivered before it, if it is still working on them (bounded by the timer) — and then a
///   **lingering close**: the output is half-closed and what the peer still sends is read and discarded
///   (bounded in bytes and by the timer) until its EOF. Closing at once with unread bytes in the socket would
///   make the kernel send a reset, which destroys the close frame in the peer's receive buffer; lingering lets
///   the peer read why it was dropped (nginx's lingering close does the same for HTTP).
/// - **The TCP connection ends**: the service is told once, with the close frame that ended it, or with what
///   the wire says a bare end of stream means (1006 unclean; hixie-75: a clean 1005).
public struct CloseLifecycle: Sendable {
    public struct Configuration: Sendable, Hashable {
        public var role: WebSocketRole
        /// hixie-75 and WSR: no close frame, so closing is closing TCP (a client half-closes first).
        public var closesByDroppingConnection: Bool
        /// How the connection ended when TCP closed before any close handshake completed.
        public var endOfStream: Outcome
        /// Bytes a lingering close reads and discards before it gives up on the peer's EOF and closes.
        public var lingerByteLimit: Int

        public init(role: WebSocketRole, closesByDroppingConnection: Bool, endOfStream: Outcome, lingerByteLimit: Int) {
            self.role = role
            self.closesByDroppingConnection = closesByDroppingConnection
            self.endOfStream = endOfStream
            self.lingerByteLimit = lingerByteLimit
        }

        /// The configuration for a wire engine.
        package init(for engine: some WebSocketWireEngine, lingerByteLimit: Int) {
            let end = engine.closeAtEndOfStream
            self.init(role: engine.role, closesByDroppingConnection: engine.closesByDroppingConnection,
                      endOfStream: Outcome(code: end.code, reason: "", wasClean: end.clean), lingerByteLimit: lingerByteLimit)
        }
    }

    /// How the connection ended, as the service hears it.
    public typealias Outcome = CloseOutcome

    /// Who sent the first close: what the metrics count a close under.
    public enum Initiator: Sendable, Hashable {
        case peer
        case local
    }

    public enum State: Sendable, Hashable {
        case open
        /// The peer broke the protocol; the service is still working on messages delivered before that (bounded
        /// by the timer), then the failure's close goes out.
        case failing
        /// We sent a close and wait for the peer's (RFC 6455, hixie-76).
        case closeSent
        /// A client of a wire without a close frame: output half-closed, reading until the server closes TCP.
        case halfClosed
        /// A client after the close handshake: waiting for the server to close TCP (RFC 6455 §7.1.1).
        case awaitingServerClose
        /// After a failure: the close is written and the output half-closed; input is discarded until the
        /// peer's EOF, the byte limit or the timer.
        case lingering(discardedBytes: Int)
        /// TCP is being closed once what was written has gone.
        case closing
        /// The TCP connection is gone and the service has been told.
        case closed
    }

    public enum Action: Sendable, Hashable {
        /// Write the engine's close for this frame (a failure's close code, or the service's).
        case writeClose(CloseFrame)
        /// Write out and flush what the engine produced.
        case flush
        /// Flush, then close TCP once it is written.
        case closeAfterWrites
        /// Flush, then half-close the output once it is written; reading goes on.
        case halfCloseAfterWrites
        /// Close TCP now.
        case closeNow
        /// Start (or restart) the close timer.
        case startTimer
        case cancelTimer
        /// Read from the peer whatever the service's pause or the socket's backpressure say: the peer's close,
        /// or its EOF, must be read.
        case keepReading
        /// The connection is gone: tell the service (once) and count the close under `code` and `initiator`.
        case notifyClosed(Outcome, code: UInt16, initiator: Initiator)
    }

    public let configuration: Configuration
    public private(set) var state: State = .open
    /// What the service will be told, once known.
    private var outcome: Outcome?
    /// The first close and who sent it, for the metrics.
    private var firstClose: (code: UInt16, initiator: Initiator)?
    /// The close a protocol failure owes the peer, while the service finishes (`failing`).
    private var pendingFailure: CloseFrame?

    public init(configuration: Configuration) {
        self.configuration = configuration
    }

    /// Whether input is read only to be discarded (a lingering close): the engine has nothing more to say.
    public var isLingering: Bool {
        if case .lingering = state { return true }
        return false
    }

    // MARK: Events

    /// The engine finished a close handshake (`WebSocketWireEvent.closed`).
    public mutating func closeCompleted(_ frame: CloseFrame, initiatedByPeer: Bool) -> [Action] {
        switch state {
        case .open, .closeSent, .halfClosed:
            break
        case .failing, .awaitingServerClose, .lingering, .closing, .closed:
            return []
        }
        let code = frame.code?.rawValue ?? CloseCode.noStatusReceived.rawValue
        outcome = Outcome(code: code, reason: frame.reason, wasClean: true)
        if initiatedByPeer, firstClose == nil { firstClose = (code, .peer) }
        if configuration.role == .server {
            state = .closing
            return [.cancelTimer, .closeAfterWrites]
        }
        // §7.1.1: the server closes TCP first; the client only waits so long for it.
        state = .awaitingServerClose
        return [.flush, .startTimer]
    }

    /// The peer broke the protocol (`WebSocketWireEvent.failed`). `serviceBusy`: the service is still working on
    /// messages delivered before the failure (`WebSocketHandler.hasUnfinishedInbound`), whose replies go first.
    public mutating func protocolFailed(code: CloseCode, reason: String, serviceBusy: Bool) -> [Action] {
        switch state {
        case .open, .closeSent, .halfClosed:
            break
        case .failing, .awaitingServerClose, .lingering, .closing, .closed:
            return []
        }
        outcome = Outcome(code: code.rawValue, reason: reason, wasClean: false)
        if firstClose == nil { firstClose = (code.rawValue, .local) }
        let frame = CloseFrame(code: code, reason: reason)
        if serviceBusy, state == .open {
            state = .failing
            pendingFailure = frame
            return [.startTimer]
        }
        return linger(closing: frame)
    }

    /// The service finished with every message delivered so far (`WebSocketConnection.inboundDidDrain`).
    public mutating func inboundDrained() -> [Action] {
        guard state == .failing, let pendingFailure else { return [] }
        return linger(closing: pendingFailure)
    }

    /// The service (or keep-alive, shutdown, the send-queue limit) closes the connection.
    public mutating func closeRequested(code: CloseCode, reason: String) -> [Action] {
        guard state == .open else { return [] }
        if firstClose == nil { firstClose = (code.rawValue, .local) }
        let frame = CloseFrame(code: code, reason: reason)
        guard configuration.closesByDroppingConnection else {
            state = .closeSent
            return [.writeClose(frame), .flush, .startTimer, .keepReading]
        }
        // hixie-75, WSR: no close handshake, so the close the service asked for is how it ends.
        outcome = Outcome(code: code.rawValue, reason: reason, wasClean: true)
        if configuration.role == .server {
            state = .closing
            return [.writeClose(frame), .closeAfterWrites]
        }
        // A client half-closes, so replies to what it sent still arrive, and reads until the server closes.
        state = .halfClosed
        return [.writeClose(frame), .halfCloseAfterWrites, .startTimer, .keepReading]
    }

    /// The close timer fired.
    public mutating func timerFired() -> [Action] {
        switch state {
        case .failing:
            // The service did not finish in time: fail now.
            guard let pendingFailure else { return [] }
            return linger(closing: pendingFailure)
        case .closeSent, .awaitingServerClose, .lingering:
            // A peer that never answered our close ends as the end of stream says (1006); a lingering peer that
            // never sent its EOF is dropped with the failure it was already told.
            state = .closing
            return [.closeNow]
        case .halfClosed:
            // The server never closed: what it still had to send is lost, so this is no clean close.
            outcome = Outcome(code: CloseCode.abnormalClosure.rawValue, reason: "the server did not close in time", wasClean: false)
            state = .closing
            return [.closeNow]
        case .open, .closing, .closed:
            return []
        }
    }

    /// Bytes a lingering close read and discarded.
    public mutating func discarded(bytes: Int) -> [Action] {
        guard case .lingering(let before) = state else { return [] }
        let total = before + bytes
        if total > configuration.lingerByteLimit {
            state = .closing
            return [.closeNow]
        }
        state = .lingering(discardedBytes: total)
        return []
    }

    /// The TCP connection ended (or could not be kept).
    public mutating func endOfStream() -> [Action] {
        guard state != .closed else { return [] }
        state = .closed
        let end = configuration.endOfStream
        let counted = firstClose ?? (end.code, .peer)
        return [.cancelTimer, .notifyClosed(outcome ?? end, code: counted.code, initiator: counted.initiator)]
    }

    // MARK: Steps

    /// The failure's close, then the lingering close.
    private mutating func linger(closing frame: CloseFrame) -> [Action] {
        state = .lingering(discardedBytes: 0)
        pendingFailure = nil
        return [.cancelTimer, .writeClose(frame), .halfCloseAfterWrites, .startTimer, .keepReading]
    }
}
