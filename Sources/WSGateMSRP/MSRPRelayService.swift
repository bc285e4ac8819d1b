import Logging
import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// Settings of the MSRP relay (RFC 4976 with RFC 7977's WebSocket legs).
public struct MSRPRelaySettings: Sendable {
    /// The host name the relay's URIs carry (`msrp://HOST:PORT;tcp`, `…;ws`).
    public var host: String
    /// The MSRP TCP listener's port (2855 by default); `Use-Path` names it.
    public var tcpPort: Int
    /// The gateway port the WebSocket leg is reached on, for the relay's `;ws` URIs.
    public var webSocketPort: Int
    /// Digest realm; nil accepts AUTH without credentials.
    public var realm: String?
    /// HA1 by user for `realm` (an htdigest file's entries).
    public var credentials: HTDigestFile?
    public var limits = MSRPParser.Limits()
    /// How long a forwarded request may wait for the next hop's response before a 408 REPORT (RFC 4976: 30 s).
    public var transactionTimeout: TimeAmount = .seconds(30)
    /// The largest chunk sent as one WebSocket message; larger chunks are re-chunked (RFC 7977 §5.1).
    public var maxWebSocketMessage = 64 << 10
    /// A certificate for `msrps`: the TCP listener then also speaks TLS (told apart by the first byte), and
    /// `Use-Path` names the relay as `msrps`.
    public var tls: ServerTLS?
    /// How `msrps` next hops are verified.
    public var clientTLS = ClientTLS()
    /// Seconds a Digest nonce stays valid.
    public var nonceLifetime: UInt64 = 300

    public init(host: String = "127.0.0.1", tcpPort: Int = 2855, webSocketPort: Int = 8080) {
        self.host = host
        self.tcpPort = tcpPort
        self.webSocketPort = webSocketPort
    }
}

/// The MSRP relay: the `WebSocketService` of its WebSocket leg (subprotocol `msrp` required), the TCP listener
/// of its MSRP leg, and outbound TCP connections to next hops. Routing decisions are `MSRPRelay`'s (a struct
/// state machine behind one lock, touched once per chunk); this class carries out its actions.
public final class MSRPRelayService: WebSocketService, Sendable {
    public let settings: MSRPRelaySettings
    let logger: Logger
    let group: any EventLoopGroup
    private let state: NIOLockedValueBox<State>

    struct State {
        var relay: MSRPRelay
        var legs: [MSRPRelay.ConnectionID: any MSRPLeg] = [:]
        var nextID = 1
        /// Forwarded requests awaiting the next hop's response, by the transaction id they were sent with.
        var pending: [String: Pending] = [:]
        /// Outbound connections by `host:port`.
        var outbound: [String: OutboundLeg] = [:]
    }

    struct Pending {
        var original: MSRPHead
        var source: MSRPRelay.ConnectionID
        var timer: Scheduled<Void>?
        /// `Failure-Report: yes`: silence past the timeout is a failure to report (with `partial` it is success).
        var reportTimeout: Bool
    }

    public init(settings: MSRPRelaySettings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                logger: Logger = Logger(label: "wsgate.msrp")) throws {
        self.settings = settings
        self.logger = logger
        self.group = group
        let host = settings.host
        var config = MSRPRelay.Configuration(
            ownURIs: [
                try MSRPURI(parsing: "msrp://\(host):\(settings.tcpPort);tcp"), try MSRPURI(parsing: "msrps://\(host):\(settings.tcpPort);tcp"),
                try MSRPURI(parsing: "msrp://\(host):\(settings.webSocketPort);ws"), try MSRPURI(parsing: "msrps://\(host):\(settings.webSocketPort);ws"),
            ],
            usePathBase: try MSRPURI(parsing: "\(settings.tls == nil ? "msrp" : "msrps")://\(host):\(settings.tcpPort);tcp"),
            realm: settings.realm)
        config.defaultExpires = 900
        var secret = SystemRandomNumberGenerator()
        let nonces = NonceIssuer(secret: (0..<32).map { _ in UInt8.random(in: 0...255, using: &secret) },
                                 lifetime: settings.nonceLifetime)
        state = NIOLockedValueBox(State(relay: MSRPRelay(configuration: config, nonces: nonces)))
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

    // MARK: TCP leg

    /// Starts the MSRP TCP listener; the returned channel is its server channel.
    public func startTCPListener(host: String, port: Int) async throws -> any Channel {
        try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { [settings, logger] channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls = settings.tls {
                        // The transport's sniffer: msrps and plain msrp on one port, told apart by the first byte.
                        try channel.pipeline.syncOperations.addHandler(TLSSniffer(tls: tls, logger: logger))
                    }
                    try channel.pipeline.syncOperations.addHandler(MSRPStreamLeg(relay: self, outbound: nil))
                }
            }
            .bind(host: host, port: port).get()
    }

    // MARK: Legs come and go

    func register(_ make: (MSRPRelay.ConnectionID) -> any MSRPLeg) -> any MSRPLeg {
        state.withLockedValue { s in
            let id = s.nextID
            s.nextID += 1
            let leg = make(id)
            s.legs[id] = leg
            return leg
        }
    }

    func unregister(_ id: MSRPRelay.ConnectionID) {
        state.withLockedValue { s in
            s.legs[id] = nil
            s.relay.connectionClosed(id)
            for (key, leg) in s.outbound where leg.id == id { s.outbound[key] = nil }
        }
    }

    // MARK: Chunks in

    /// A whole chunk arrived on `leg`.
    func received(_ chunk: MSRPChunk, on leg: MSRPRelay.ConnectionID) {
        if chunk.head.method == nil {
            return responseArrived(chunk.head)
        }
        var generator = SystemRandomNumberGenerator()
        let now = UInt64(NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
        let realm = settings.realm ?? ""
        let credentials = settings.credentials
        let (actions, legs) = state.withLockedValue { s -> ([MSRPRelay.Action], [MSRPRelay.ConnectionID: any MSRPLeg]) in
            s.relay.expire(now: now)
            let actions = s.relay.received(chunk.head, on: leg, now: now,
                                           ha1For: { credentials?.ha1(user: $0, realm: realm) }, generator: &generator)
            // Only the legs the actions name (one or two), not a copy of every connection's.
            var legs: [MSRPRelay.ConnectionID: any MSRPLeg] = [:]
            for action in actions {
                switch action {
                case .respond(let id, _), .close(let id, _): legs[id] = s.legs[id]
                case .forward(_, .connection(let id), _, _): legs[id] = s.legs[id]
                case .forward: break
                }
            }
            return (actions, legs)
        }
        for action in actions {
            switch action {
            case .respond(let id, let head):
                legs[id]?.send(MSRPChunk(head: head))
            case .close(let id, let reason):
                logger.info("closing MSRP connection", metadata: ["reason": "\(reason)"])
                legs[id]?.close()
            case .forward(let head, let hop, let original, let source):
                var out = chunk
                out.head = head
                forward(out, to: hop, original: original, source: source, legs: legs)
            }
        }
        if case .respond(_, let h)? = actions.first, let code = h.statusCode, code >= 400 {
            logger.info("MSRP request refused", metadata: ["method": "\(chunk.head.method ?? "")", "code": "\(code)"])
        }
    }

    /// A malformed chunk: 400 when its transaction is known, else the connection is dropped.
    func malformed(_ failure: MSRPChunkReader.Failure, on leg: any MSRPLeg) {
        logger.info("malformed MSRP input", metadata: ["reason": "\(failure.reason)"])
        if let head = failure.partialHead, head.method != nil, head.method != "REPORT" {
            leg.send(MSRPChunk(head: MSRPRelay.response(to: head, 400, "Bad Request")))
        }
        leg.close()
    }

    private func forward(_ chunk: MSRPChunk, to hop: MSRPRelay.NextHop, original: MSRPHead, source: MSRPRelay.ConnectionID,
                         legs: [MSRPRelay.ConnectionID: any MSRPLeg]) {
        switch hop {
        case .connection(let id):
            guard let leg = legs[id] else { return failed(original, source: source, code: 481, "Session Does Not Exist") }
            deliver(chunk, on: leg, original: original, source: source)
        case .remote(let uri):
            outboundLeg(to: uri).whenComplete { result in
                switch result {
                case .success(let leg):
                    self.deliver(chunk, on: leg, original: original, source: source)
                case .failure(let error):
                    self.logger.info("MSRP next hop unreachable", metadata: ["next_hop": "\(uri)", "error": "\(error)"])
                    self.failed(original, source: source, code: 481, "Next Hop Unreachable")
                }
            }
        }
    }

    /// Sends a chunk (re-chunked to the leg's size limit) and, for requests other than REPORT, waits for the
    /// next hop's response (bounded by the transaction timeout).
    private func deliver(_ chunk: MSRPChunk, on leg: any MSRPLeg, original: MSRPHead, source: MSRPRelay.ConnectionID) {
        var generator = SystemRandomNumberGenerator()
        let pieces = leg.maxChunkBytes.flatMap { chunk.split(maxBytes: $0, generator: &generator) } ?? [chunk]
        for piece in pieces {
            if piece.head.method != "REPORT", MSRPRelay.wantsFailureReport(piece.head) {
                let timer = group.next().scheduleTask(in: settings.transactionTimeout) {
                    self.timedOut(piece.head.transactionID)
                }
                let pending = Pending(original: original, source: source, timer: timer,
                                      reportTimeout: MSRPRelay.wantsSuccessResponse(piece.head))
                state.withLockedValue { $0.pending[piece.head.transactionID] = pending }
            }
            leg.send(piece)
        }
    }

    private func responseArrived(_ head: MSRPHead) {
        guard let pending = state.withLockedValue({ $0.pending.removeValue(forKey: head.transactionID) }) else { return }
        pending.timer?.cancel()
        if let code = head.statusCode, code != 200 {
            failed(pending.original, source: pending.source, code: code, {
                if case .response(_, let comment) = head.startLine { return comment ?? "Failed" }
                return "Failed"
            }())
        }
    }

    private func timedOut(_ tid: String) {
        guard let pending = state.withLockedValue({ $0.pending.removeValue(forKey: tid) }), pending.reportTimeout else { return }
        logger.info("MSRP next hop did not answer", metadata: ["transaction": "\(tid)"])
        failed(pending.original, source: pending.source, code: 408, "Request Timeout")
    }

    /// A failure REPORT back toward the source of `original`, when it asked for one.
    private func failed(_ original: MSRPHead, source: MSRPRelay.ConnectionID, code: Int, _ comment: String) {
        var generator = SystemRandomNumberGenerator()
        guard let report = MSRPRelay.failureReport(for: original, code: code, comment: comment, generator: &generator),
              let leg = state.withLockedValue({ $0.legs[source] }) else { return }
        leg.send(MSRPChunk(head: report))
    }

    // MARK: Outbound

    private func outboundLeg(to uri: MSRPURI) -> EventLoopFuture<any MSRPLeg> {
        let key = "\(uri.secure ? "msrps" : "msrp"):\(uri.host.lowercased()):\(uri.port ?? 2855)"
        let eventLoop = group.next()
        if let existing = state.withLockedValue({ $0.outbound[key] }) {
            return eventLoop.makeSucceededFuture(existing)
        }
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = uri.secure ? try settings.clientTLS.makeContext() : nil
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let clientTLS = settings.clientTLS
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(.seconds(10))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(try clientTLS.makeHandler(context: tlsContext, host: uri.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(MSRPStreamLeg(relay: self, outbound: key))
                }
            }
            .connect(host: uri.host, port: uri.port ?? 2855)
            .flatMapThrowing { channel -> any MSRPLeg in
                guard let leg = try channel.pipeline.syncOperations.handler(type: MSRPStreamLeg.self).leg else {
                    throw MSRPRelayError.unsupported("the connection to \(key) closed at once")
                }
                // Pooled only once connected, so a failed attempt is never reused.
                self.registerOutbound(leg, key: key)
                return leg
            }
    }

    func registerOutbound(_ leg: OutboundLeg, key: String) {
        state.withLockedValue { $0.outbound[key] = leg }
    }

    public var sessionCount: Int { state.withLockedValue { $0.relay.sessionCount } }
}

public enum MSRPRelayError: Error, CustomStringConvertible {
    case unsupported(String)
    public var description: String {
        switch self {
        case .unsupported(let what): return what
        }
    }
}

