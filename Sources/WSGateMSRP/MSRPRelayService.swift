import Logging
import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import WebSocketAPI

/// The MSRP relay: the `WebSocketService` of its WebSocket leg (subprotocol `msrp` required), the TCP listener
/// of its MSRP leg (`MSRPRelayService+TCPListener.swift`), and outbound connections to next hops
/// (`MSRPNextHopPool`). Every decision — routing, AUTH, the failure REPORTs, the transaction timeout — is
/// `MSRPRelay`'s, a struct state machine behind one lock touched once per chunk; this class keeps the I/O: it
/// feeds the machine what arrived and the time, carries out its actions, and runs the one timer it asks for.
public final class MSRPRelayService: WebSocketService, Sendable {
    public let settings: MSRPRelaySettings
    let logger: Logger
    let group: any EventLoopGroup
    let nextHops: MSRPNextHopPool
    private let state: NIOLockedValueBox<State>

    struct State {
        var relay: MSRPRelay
        var legs: [MSRPRelay.ConnectionID: MSRPLeg] = [:]
        var nextID = 1
        /// The timer set for the relay's next transaction deadline; nil when none is pending.
        var transactionTimer: Scheduled<Void>?
    }

    public init(settings: MSRPRelaySettings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "wsgate.msrp")) throws {
        self.settings = settings
        self.logger = logger
        self.group = group
        nextHops = MSRPNextHopPool(group: group, clientTLS: settings.clientTLS)
        var random = SystemRandomNumberGenerator()
        let secret = settings.nonceSecret ?? (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
        let nonces = NonceIssuer(secret: secret, lifetime: settings.nonceLifetime)
        state = NIOLockedValueBox(State(relay: MSRPRelay(configuration: try settings.relayConfiguration(), nonces: nonces)))
    }

    // MARK: WebSocket leg

    public func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
        guard offeredSubprotocols.contains("msrp") else {
            return .reject(.badRequest("an MSRP relay endpoint needs Sec-WebSocket-Protocol: msrp (RFC 7977 §4.1)"))
        }
        return .accept(subprotocol: "msrp")
    }

    public func makeHandler() -> any WebSocketHandler {
        MSRPWebSocketLeg(relay: self)
    }

    // MARK: Legs come and go

    /// `identity`: the subject the leg's WebSocket handshake authenticated, whose AUTH needs no Digest.
    func register(_ transport: any MSRPLeg.Transport, identity: String? = nil) -> MSRPLeg {
        state.withLockedValue { s in
            let id = s.nextID
            s.nextID += 1
            let leg = MSRPLeg(id: id, transport: transport, relay: self)
            s.legs[id] = leg
            if let identity { s.relay.connectionAuthenticated(id, as: identity) }
            return leg
        }
    }

    /// The leg's connection is gone: its session ends, sources streaming to it resume and find it closed, and
    /// what went out on it and was not answered is reported failed to its sources.
    func unregister(_ leg: MSRPLeg) {
        let reports = decide { relay, _, generator in
            relay.connectionClosed(leg.id, generator: &generator)
        }
        state.withLockedValue { s in s.legs[leg.id] = nil }
        leg.closed()
        nextHops.forget(leg.id)
        if !reports.isEmpty {
            logger.info("MSRP connection lost with transactions unanswered", metadata: ["reports": "\(reports.count)"])
        }
        execute(reports)
    }

    // MARK: Input to the relay

    /// A whole chunk arrived on `leg`. Returns the leg it was forwarded to, when that is known at once, so the
    /// source can pause while that leg's queue is long.
    @discardableResult
    func received(_ chunk: MSRPChunk, on leg: MSRPRelay.ConnectionID) -> MSRPLeg? {
        let actions = decideReceived(chunk.head, on: leg)
        execute(actions, body: chunk)
        logRefusal(chunk.head, actions)
        for (action, target) in actions {
            switch action {
            case .forward(_, .connection, _, _): return target
            case .forward(_, .remote(let uri), _, _): return nextHops.connectedLeg(to: uri)
            default: continue
            }
        }
        return nil
    }

    /// The relay's decision on a head that arrived on `leg` (sessions expired first; credentials from the htdigest).
    private func decideReceived(_ head: MSRPHead, on leg: MSRPRelay.ConnectionID) -> [Resolved] {
        let realm = settings.realm ?? ""
        let credentials = settings.credentials
        return decide { relay, now, generator in
            relay.expireSessions(now: now)
            return relay.received(head, on: leg, now: now, ha1For: { credentials?.ha1(user: $0, realm: realm) },
                                  generator: &generator)
        }
    }

    /// Where a SEND whose body is still arriving goes (`routeStream`).
    enum StreamRoute {
        /// Refused or undeliverable, and answered: its body is read and dropped.
        case refused
        /// Streaming to `leg` as `stream`; `success` is the `200` for the source once its chunk has ended.
        case streaming(MSRPLeg, MSRPOutbound.StreamID, success: MSRPHead?)
        /// To a next hop whose connection is still being opened: the source waits (reading paused) and calls
        /// `beginStream` once it is there.
        case connecting(EventLoopFuture<MSRPLeg>, forwarded: MSRPHead, original: MSRPHead, success: MSRPHead?)
    }

    /// A SEND's head arrived on `leg` with its body to follow: the relay decides where it goes at once, and the
    /// body is forwarded as it comes (errors are answered now; the `200` when the chunk has ended).
    func routeStream(_ head: MSRPHead, on leg: MSRPRelay.ConnectionID) -> StreamRoute {
        let actions = decideReceived(head, on: leg)
        var success: MSRPHead?
        var immediate: [Resolved] = []
        var forward: (head: MSRPHead, hop: MSRPRelay.NextHop, leg: MSRPLeg?, original: MSRPHead)?
        for resolved in actions {
            switch resolved.action {
            case .respond(_, let response) where response.statusCode == 200: success = response
            case .forward(let forwarded, let hop, let original, _): forward = (forwarded, hop, resolved.leg, original)
            default: immediate.append(resolved)
            }
        }
        execute(immediate)
        logRefusal(head, actions)
        guard let forward else { return .refused }
        switch forward.hop {
        case .connection:
            guard let target = forward.leg else {
                forwardFailed(forward.original, from: leg, because: .connectionGone)
                return .refused
            }
            return beginStream(forward.head, on: target, original: forward.original, source: leg, success: success)
        case .remote(let uri):
            if let target = nextHops.connectedLeg(to: uri) {
                return beginStream(forward.head, on: target, original: forward.original, source: leg, success: success)
            }
            let connecting = nextHops.leg(to: uri, handler: { MSRPStreamLeg(relay: self) })
            connecting.whenFailure { error in
                self.logger.info("MSRP next hop unreachable", metadata: ["next_hop": "\(uri)", "error": "\(error)"])
                self.forwardFailed(forward.original, from: leg, because: .unreachable)
            }
            return .connecting(connecting, forwarded: forward.head, original: forward.original, success: success)
        }
    }

    /// Opens the stream on `target` (`routeStream`, or a source whose next hop just connected).
    func beginStream(_ head: MSRPHead, on target: MSRPLeg, original: MSRPHead, source: MSRPRelay.ConnectionID,
                     success: MSRPHead?) -> StreamRoute {
        guard let stream = target.beginStream(head, original: original, source: source) else {
            forwardFailed(original, from: source, because: .connectionGone)
            return .refused
        }
        return .streaming(target, stream, success: success)
    }

    /// A piece of a streamed chunk goes out on `nextHop` (called by the leg, under its lock, before the bytes).
    func pieceSent(_ head: MSRPHead, on nextHop: MSRPRelay.ConnectionID, original: MSRPHead, from source: MSRPRelay.ConnectionID) {
        state.withLockedValue { s in
            s.relay.sent(head, on: nextHop, original: original, from: source, now: Self.now())
            armTransactionTimer(&s)
        }
    }

    /// Sends a response head on `leg` (the `200` a streamed chunk gets when it has ended).
    func respond(_ response: MSRPHead, on leg: MSRPRelay.ConnectionID) {
        let target = state.withLockedValue { $0.legs[leg] }
        target?.send(MSRPChunk(head: response))
    }

    private func logRefusal(_ head: MSRPHead, _ actions: [Resolved]) {
        if case .respond(_, let h)? = actions.first?.action, let code = h.statusCode, code >= 400 {
            logger.info("MSRP request refused", metadata: ["method": "\(head.method ?? "")", "code": "\(code)"])
        }
    }

    /// Input on `leg` that is not a chunk.
    func malformed(_ failure: MSRPChunkReader.Failure, on leg: MSRPRelay.ConnectionID) {
        logger.info("malformed MSRP input", metadata: ["reason": "\(failure.reason)"])
        execute(decide { relay, _, _ in relay.malformed(partialHead: failure.partialHead, on: leg, reason: "\(failure.reason)") })
    }

    /// An action with the leg it names, looked up under the same lock as the decision.
    typealias Resolved = (action: MSRPRelay.Action, leg: MSRPLeg?)

    /// Runs `body` on the relay under the lock with the time and a generator, and resolves the legs its actions
    /// name (only those, not a copy of every connection's).
    func decide(_ body: (inout MSRPRelay, MSRPInstant, inout SystemRandomNumberGenerator) -> [MSRPRelay.Action]) -> [Resolved] {
        var generator = SystemRandomNumberGenerator()
        return state.withLockedValue { s in
            let actions = body(&s.relay, Self.now(), &generator)
            return actions.map { action in
                switch action {
                case .respond(let id, _), .report(let id, _), .close(let id, _), .forward(_, .connection(let id), _, _):
                    return (action, s.legs[id])
                case .forward(_, .remote, _, _):
                    return (action, nil)
                }
            }
        }
    }

    /// The relay's clock: NIO's monotonic uptime, which the transaction timer is scheduled on too.
    static func now() -> MSRPInstant {
        MSRPInstant(nanoseconds: NIODeadline.now().uptimeNanoseconds)
    }

    // MARK: Carrying actions out

    func execute(_ actions: [Resolved], body chunk: MSRPChunk? = nil) {
        for (action, leg) in actions {
            switch action {
            case .respond(_, let head), .report(_, let head):
                leg?.send(MSRPChunk(head: head))
            case .close(_, let reason):
                logger.info("closing MSRP connection", metadata: ["reason": "\(reason)"])
                leg?.close()
            case .forward(let head, let hop, let original, let source):
                guard var out = chunk else { continue }
                out.head = head
                forward(out, to: hop, via: leg, original: original, source: source)
            }
        }
    }

    private func forward(_ chunk: MSRPChunk, to hop: MSRPRelay.NextHop, via leg: MSRPLeg?, original: MSRPHead,
                         source: MSRPRelay.ConnectionID) {
        switch hop {
        case .connection:
            guard let leg else {
                return forwardFailed(original, from: source, because: .connectionGone)
            }
            deliver(chunk, on: leg, original: original, source: source)
        case .remote(let uri):
            nextHops.leg(to: uri, handler: { MSRPStreamLeg(relay: self) }).whenComplete { result in
                switch result {
                case .success(let leg):
                    self.deliver(chunk, on: leg, original: original, source: source)
                case .failure(let error):
                    self.logger.info("MSRP next hop unreachable", metadata: ["next_hop": "\(uri)", "error": "\(error)"])
                    self.forwardFailed(original, from: source, because: .unreachable)
                }
            }
        }
    }

    /// A forward that never reached its next hop: the relay's REPORT to the source, sent.
    private func forwardFailed(_ original: MSRPHead, from source: MSRPRelay.ConnectionID, because failure: MSRPRelay.ForwardFailure) {
        execute(decide { relay, _, generator in relay.forwardFailed(original, from: source, because: failure, generator: &generator) })
    }

    /// Sends a chunk (re-chunked to the leg's size limit), telling the relay of each piece before it goes, so a
    /// response can never arrive before its transaction is known.
    private func deliver(_ chunk: MSRPChunk, on leg: MSRPLeg, original: MSRPHead, source: MSRPRelay.ConnectionID) {
        var generator = SystemRandomNumberGenerator()
        let pieces = leg.maxChunkBytes.flatMap { chunk.split(maxBytes: $0, generator: &generator) } ?? [chunk]
        for piece in pieces {
            state.withLockedValue { s in
                s.relay.sent(piece.head, on: leg.id, original: original, from: source, now: Self.now())
                armTransactionTimer(&s)
            }
            leg.send(piece)
        }
    }

    // MARK: The transaction timer

    /// Sets the timer for the relay's next transaction deadline when none is set. Later sends only add later
    /// deadlines (one timeout for all), so a set timer never needs to move earlier.
    private func armTransactionTimer(_ s: inout State) {
        guard s.transactionTimer == nil, let deadline = s.relay.nextTransactionDeadline() else { return }
        s.transactionTimer = group.next().scheduleTask(deadline: .uptimeNanoseconds(deadline.nanoseconds)) { [self] in
            transactionTimerFired()
        }
    }

    private func transactionTimerFired() {
        let reports = decide { relay, now, generator in relay.expireTransactions(now: now, generator: &generator) }
        let given = state.withLockedValue { s -> [(MSRPLeg, String)] in
            s.transactionTimer = nil
            armTransactionTimer(&s)
            return s.relay.lastExpired.compactMap { expired in s.legs[expired.nextHop].map { ($0, expired.transactionID) } }
        }
        for (leg, transactionID) in given { leg.answered(transactionID) }
        for (action, _) in reports {
            if case .report(_, let head) = action {
                logger.info("MSRP next hop did not answer", metadata: ["message_id": "\(head["Message-ID"] ?? "")"])
            }
        }
        execute(reports)
    }

    public var sessionCount: Int { state.withLockedValue { $0.relay.sessionCount } }
}
