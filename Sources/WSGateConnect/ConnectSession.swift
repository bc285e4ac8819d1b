import NIOCore
import WebSocketAPI
import WebSocketEngine

/// The state of one `wsgate connect` run, across reconnections: what to send, when to ping, when to close, when
/// to connect again and with what exit status to end. A state machine: `handle(_:now:)` takes what happened and
/// returns what to do; the command executes the actions (sockets, stdin, printing) and never decides itself.
///
/// Times are offsets from a start the caller picks (`now`), so tests drive it with made-up times.
///
/// Stdin is read a line at a time, on demand (`Action.readLine`): a line is read only when it can be sent, so a
/// line is never read and then dropped — one read while the connection was being lost is kept and sent on the next
/// connection, and nothing already sent is sent again.
package struct ConnectSession {
    package enum Event: Equatable {
        /// A connection opened (the first, or again after a loss).
        case connected
        /// Connecting failed.
        case connectFailed(ConnectFailure)
        /// The line `readLine` asked for.
        case line(String)
        /// Stdin ended (instead of the line `readLine` asked for).
        case stdinEnded
        case message(WebSocketMessage)
        case pong(ByteBuffer)
        /// The connection is gone (closed cleanly or not).
        case closed(WebSocketCloseInfo)
        /// Time passed: the caller ticks every 100 ms or so while a connection is open or lingering.
        case tick
    }

    package enum ConnectFailure: Equatable {
        /// The server answered the handshake with another status than 101 (or an invalid 101).
        case refused(String)
        /// No connection: refused port, no route, DNS, TLS.
        case unreachable(String)
    }

    package enum Action: Equatable {
        /// (Re)connect once `after` has passed.
        case connect(after: Duration)
        /// Let stdin give its next line (an `Event.line` or `Event.stdinEnded` follows).
        case readLine
        case send(WebSocketMessage)
        case ping(ByteBuffer)
        /// Start the close handshake.
        case close(CloseCode, reason: String)
        case printMessage(WebSocketMessage)
        /// `roundTrip` when the pong answered a ping of ours.
        case printPong(ByteBuffer, roundTrip: Duration?)
        /// The connection ended for good: shown in `--json` output, and on stderr when not clean.
        case printClose(WebSocketCloseInfo)
        /// A line on stderr.
        case report(String)
        case exit(ExitStatus)
    }

    /// `wsgate connect`'s exit statuses, one per way a session ends.
    package enum ExitStatus: Int32, Equatable {
        /// Closed cleanly with 1000 (or no code), by either side.
        case clean = 0
        /// Closed otherwise: another code, no close handshake, or a ping unanswered.
        case unclean = 1
        /// The server refused the opening handshake (its HTTP status and body were printed).
        case refused = 2
        /// No connection could be made.
        case unreachable = 3
    }

    private enum Phase: Equatable {
        case connecting, open, closing, ended
    }

    package let settings: ConnectSettings
    private var phase = Phase.connecting
    /// A `readLine` is outstanding: stdin may be giving a line.
    private var reading = false
    private var stdinEnded = false
    /// A line read while no connection was open: sent once one is.
    private var pending: WebSocketMessage?
    private var sentLines = 0
    private var received = 0
    /// When stdin ended and when the last message arrived (the linger runs from the later of the two).
    private var stdinEndedAt: Duration = .zero
    private var lastMessageAt: Duration = .zero
    /// We started the close: the session ends with it, whatever `reconnect` says.
    private var closingByChoice = false
    private var nextPingAt: Duration?
    private var pingSequence: UInt64 = 0
    /// Pings sent and not yet answered, by sequence number.
    private var unanswered: [UInt64: Duration] = [:]
    private var reconnectDelay: Duration

    package init(settings: ConnectSettings) {
        self.settings = settings
        reconnectDelay = settings.reconnectInitialDelay
    }

    /// The first actions: connect.
    package mutating func start() -> [Action] {
        [.connect(after: .zero)]
    }

    package mutating func handle(_ event: Event, now: Duration) -> [Action] {
        switch event {
        case .connected: return connected(now: now)
        case .connectFailed(let failure): return connectFailed(failure)
        case .line(let line): return lineRead(line)
        case .stdinEnded: return inputEnded(now: now)
        case .message(let message): return messageReceived(message, now: now)
        case .pong(let payload): return pongReceived(payload, now: now)
        case .closed(let info): return closed(info)
        case .tick: return tick(now: now)
        }
    }

    // MARK: Events

    private mutating func connected(now: Duration) -> [Action] {
        phase = .open
        reconnectDelay = settings.reconnectInitialDelay
        unanswered = [:]
        nextPingAt = settings.pingInterval.map { now + $0 }
        if let message = pending {
            pending = nil
            return send(message)
        }
        return wantsLines && !reading ? readLine() : []
    }

    private mutating func connectFailed(_ failure: ConnectFailure) -> [Action] {
        switch failure {
        case .refused(let why):
            phase = .ended
            return [.report(why), .exit(.refused)]
        case .unreachable(let why):
            if mayReconnect { return [.report(why)] + reconnect() }
            phase = .ended
            return [.report(why), .exit(.unreachable)]
        }
    }

    private mutating func lineRead(_ line: String) -> [Action] {
        reading = false
        let message: WebSocketMessage
        do {
            if settings.slashCommands {
                switch try SlashCommand.parse(line) {
                case .ping(let data):
                    return (phase == .open ? [.ping(data)] : []) + readLine()
                case .close(let code, let reason):
                    guard phase == .open else { return readLine() }
                    return closeByChoice(code, reason: reason)
                case .binary(let data):
                    message = .binary(data)
                case .line(let text):
                    message = try ConnectFormat.message(from: text, input: settings.input)
                }
            } else {
                message = try ConnectFormat.message(from: line, input: settings.input)
            }
        } catch {
            return [.report("\(error)")] + readLine()
        }
        guard phase == .open else {
            pending = message
            return []
        }
        return send(message)
    }

    private mutating func inputEnded(now: Duration) -> [Action] {
        reading = false
        stdinEnded = true
        stdinEndedAt = now
        guard phase == .open else { return [] }
        if settings.once { return received >= 1 ? closeByChoice(.normalClosure, reason: "") : [] }
        if settings.noClose { return [] }
        return settings.linger == .zero ? closeByChoice(.normalClosure, reason: "") : []
    }

    private mutating func messageReceived(_ message: WebSocketMessage, now: Duration) -> [Action] {
        received += 1
        lastMessageAt = now
        // `--once` prints one message and `--max-messages N` N: what arrives while their close goes out is not theirs.
        if received > (settings.once ? 1 : settings.maxMessages ?? .max) { return [] }
        var actions: [Action] = [.printMessage(message)]
        if phase == .open, settings.once || settings.maxMessages.map({ received >= $0 }) == true {
            actions += closeByChoice(.normalClosure, reason: "")
        }
        return actions
    }

    private mutating func pongReceived(_ payload: ByteBuffer, now: Duration) -> [Action] {
        var roundTrip: Duration?
        if payload.readableBytes == 8, let sequence = payload.getInteger(at: payload.readerIndex, as: UInt64.self),
           let sentAt = unanswered[sequence] {
            roundTrip = now - sentAt
            // A pong answers its ping and, RFC 6455 §5.5.3 allows, every ping before it.
            unanswered = unanswered.filter { $0.key > sequence }
        }
        return settings.showPing ? [.printPong(payload, roundTrip: roundTrip)] : []
    }

    private mutating func closed(_ info: WebSocketCloseInfo) -> [Action] {
        reading = reading && phase != .ended
        if mayReconnect && !closingByChoice {
            return [.report("connection lost (\(info)); connecting again")] + reconnect()
        }
        phase = .ended
        let clean = info.wasClean && (info.code == 1000 || info.code == 1005)
        return [.printClose(info), .exit(clean ? .clean : .unclean)]
    }

    private mutating func tick(now: Duration) -> [Action] {
        guard phase == .open else { return [] }
        var actions: [Action] = []
        if let oldest = unanswered.values.min(), now - oldest >= settings.pingTimeout {
            unanswered = [:]
            nextPingAt = nil
            phase = .closing
            actions.append(.report("no pong within \(settings.pingTimeout): the connection is dead"))
            actions.append(.close(.internalServerError, reason: "ping timeout"))
            return actions
        }
        if let due = nextPingAt, now >= due, let interval = settings.pingInterval {
            pingSequence += 1
            unanswered[pingSequence] = now
            var payload = ByteBuffer()
            payload.writeInteger(pingSequence)
            actions.append(.ping(payload))
            nextPingAt = due + interval * Int(((now - due) / interval).rounded(.down) + 1)
        }
        if stdinEnded, !settings.once, !settings.noClose, now - max(stdinEndedAt, lastMessageAt) >= settings.linger {
            actions += closeByChoice(.normalClosure, reason: "")
        }
        return actions
    }

    // MARK: Helpers

    /// Whether more lines are to be read: stdin has not ended, and `--once` has not sent its one.
    private var wantsLines: Bool { !stdinEnded && !(settings.once && sentLines >= 1) && !closingByChoice }

    /// Whether a lost connection is worth connecting again: asked for, and not after stdin ended (unless the
    /// session is one that reads until the server closes).
    private var mayReconnect: Bool { settings.reconnect && (!stdinEnded || settings.noClose) && !closingByChoice }

    private mutating func readLine() -> [Action] {
        guard wantsLines, !reading else { return [] }
        reading = true
        return [.readLine]
    }

    private mutating func send(_ message: WebSocketMessage) -> [Action] {
        sentLines += 1
        return [.send(message)] + readLine()
    }

    private mutating func closeByChoice(_ code: CloseCode, reason: String) -> [Action] {
        guard phase == .open else { return [] }
        phase = .closing
        closingByChoice = true
        return [.close(code, reason: reason)]
    }

    private mutating func reconnect() -> [Action] {
        phase = .connecting
        let delay = reconnectDelay
        reconnectDelay = min(reconnectDelay * 2, settings.reconnectMaxDelay)
        return [.connect(after: delay)]
    }
}
