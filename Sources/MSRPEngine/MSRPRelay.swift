/// The routing decisions of an MSRP relay (RFC 4976, with RFC 7977's WebSocket legs) as a state machine: the
/// I/O layer reports each request head and each closed connection; the relay answers with actions — respond,
/// forward (to a connection it holds or to a remote next hop), close. It never touches bytes on the wire or a
/// clock of its own (`now` is passed in), so every rule is unit-tested without sockets.
///
/// Sessions: a successful AUTH binds a new session id (≥ 80 random bits) to the connection it came on and to the
/// client's own URI (the first of its `From-Path`); the relay's URI with that session id goes back as `Use-Path`.
/// A request whose `To-Path` starts with one of the relay's URIs is either the bound client's, going out (it
/// must arrive on the bound connection, from the bound URI), or someone else's, going in to that client (the
/// next URI must be the bound client's). A relay node owns only the sessions it issued; nodes of one domain
/// share credentials, nothing else.
public struct MSRPRelay: Sendable {
    public typealias ConnectionID = Int

    public struct Configuration: Sendable {
        /// URIs this relay answers to, without session ids: one per listener (`msrp://host:port;tcp`,
        /// `msrp://host:port;ws`, their `msrps` forms). Any URI matching one (session id aside) is ours.
        public var ownURIs: [MSRPURI]
        /// The listener URI `Use-Path` names (other peers reach the relay there; RFC 7977 §8.1 uses TCP/TLS).
        public var usePathBase: MSRPURI
        /// Digest realm; nil accepts AUTH without credentials (authentication done elsewhere, e.g. in the
        /// WebSocket handshake, RFC 7977 §5.3.1).
        public var realm: String?
        public var minExpires: Int = 60
        public var maxExpires: Int = 3600
        public var defaultExpires: Int = 900
        /// Failed credential attempts a connection gets before it is closed.
        public var maxAuthFailures: Int = 3

        public init(ownURIs: [MSRPURI], usePathBase: MSRPURI, realm: String? = nil) {
            self.ownURIs = ownURIs
            self.usePathBase = usePathBase
            self.realm = realm
        }
    }

    public enum NextHop: Sendable, Equatable {
        /// A connection the relay holds (an authenticated client's).
        case connection(ConnectionID)
        /// Anyone else: the I/O layer opens (or reuses) a TCP/TLS connection to the URI's host and port.
        case remote(MSRPURI)
    }

    public enum Action: Sendable, Equatable {
        /// Send this response head (no body) on the connection.
        case respond(ConnectionID, MSRPHead)
        /// Forward the request (rewritten: new transaction id, paths shifted) with the chunk's body to `to`.
        /// `original` is the head as received, for a failure REPORT if the next hop fails.
        case forward(MSRPHead, to: NextHop, original: MSRPHead, from: ConnectionID)
        case close(ConnectionID, reason: String)
    }

    struct Session: Sendable {
        var connection: ConnectionID
        var client: MSRPURI
        var expires: UInt64
    }

    public var configuration: Configuration
    private var nonces: NonceIssuer
    private(set) var sessions: [String: Session] = [:]
    private var sessionOf: [ConnectionID: String] = [:]
    private var authFailures: [ConnectionID: Int] = [:]
    private var nextSweep: UInt64 = 0

    public init(configuration: Configuration, nonces: NonceIssuer) {
        self.configuration = configuration
        self.nonces = nonces
    }

    public func isOwn(_ uri: MSRPURI) -> Bool {
        configuration.ownURIs.contains { own in
            var bare = uri
            bare.sessionID = nil
            return bare.matches(own)
        }
    }

    /// Session ids of the relay's own URIs carry ≥ 80 bits (RFC 4975 §14.1): 20 base-62 characters carry 119.
    static func makeSessionID(using generator: inout some RandomNumberGenerator) -> String {
        MSRPHead.randomToken(length: 20, using: &generator)
    }

    // MARK: Requests

    /// A request head arrived on `connection`. `ha1For(user)` looks credentials up; `generator` makes session ids.
    public mutating func received(_ head: MSRPHead, on connection: ConnectionID, now: UInt64,
                                  ha1For: (String) -> String?, generator: inout some RandomNumberGenerator) -> [Action] {
        guard let method = head.method else { return [] } // responses are the I/O layer's business (hop by hop)
        let toPath: [MSRPURI], fromPath: [MSRPURI]
        do {
            toPath = try head.toPath()
            fromPath = try head.fromPath()
        } catch {
            return respond(head, on: connection, 400, "Bad Request", method: method)
        }
        guard isOwn(toPath[0]) else { return respond(head, on: connection, 481, "Session Does Not Exist", method: method) }
        if method == "AUTH" {
            guard toPath.count == 1 else { return respond(head, on: connection, 403, "Forbidden", method: method) }
            return auth(head, from: fromPath, on: connection, now: now, ha1For: ha1For, generator: &generator)
        }
        if method == "SEND", head["Message-ID"] == nil || head["Byte-Range"] == nil {
            return respond(head, on: connection, 400, "Bad Request", method: method)
        }
        guard toPath.count >= 2 else {
            // Addressed to the relay itself: it is no endpoint.
            return respond(head, on: connection, method == "SEND" || method == "REPORT" ? 481 : 501,
                           method == "SEND" || method == "REPORT" ? "Session Does Not Exist" : "Not Implemented", method: method)
        }
        guard let sid = toPath[0].sessionID, let session = sessions[sid], session.expires > now else {
            return respond(head, on: connection, 481, "Session Does Not Exist", method: method)
        }
        let next = toPath[1]
        var hop: NextHop
        if session.connection == connection {
            // The bound client's request, going out: it must come from the URI it authenticated with.
            guard fromPath[0].matches(session.client) else { return respond(head, on: connection, 481, "Session Does Not Exist", method: method) }
            hop = .remote(next)
        } else {
            if fromPath[0].matches(session.client) {
                return respond(head, on: connection, 506, "Session Bound Elsewhere", method: method)
            }
            // Someone else's request, going in: only to the client bound to the session.
            guard next.matches(session.client) else { return respond(head, on: connection, 481, "Session Does Not Exist", method: method) }
            hop = .connection(session.connection)
        }
        // The next hop may be this relay again (two clients of one relay, RFC 7977 §8.4): it is handled as the
        // next relay would, without a network round trip.
        var forwarded = head
        forwarded.transactionID = MSRPHead.makeTransactionID(using: &generator)
        forwarded["To-Path"] = toPath.dropFirst().map(\.description).joined(separator: " ")
        forwarded["From-Path"] = ([toPath[0]] + fromPath).map(\.description).joined(separator: " ")
        if case .remote(let uri) = hop, isOwn(uri), let innerSid = uri.sessionID, let inner = sessions[innerSid], inner.expires > now {
            let innerTo = Array(toPath.dropFirst())
            guard innerTo.count >= 2, innerTo[1].matches(inner.client) else {
                return respond(head, on: connection, 481, "Session Does Not Exist", method: method)
            }
            forwarded["To-Path"] = innerTo.dropFirst().map(\.description).joined(separator: " ")
            forwarded["From-Path"] = ([innerTo[0], toPath[0]] + fromPath).map(\.description).joined(separator: " ")
            hop = .connection(inner.connection)
        } else if case .remote(let uri) = hop, isOwn(uri) {
            return respond(head, on: connection, 481, "Session Does Not Exist", method: method)
        }
        var actions: [Action] = []
        if method != "REPORT", Self.wantsSuccessResponse(head) {
            actions += respond(head, on: connection, 200, "OK", method: method)
        }
        actions.append(.forward(forwarded, to: hop, original: head, from: connection))
        return actions
    }

    private mutating func auth(_ head: MSRPHead, from fromPath: [MSRPURI], on connection: ConnectionID, now: UInt64,
                               ha1For: (String) -> String?, generator: inout some RandomNumberGenerator) -> [Action] {
        if let realm = configuration.realm {
            guard let credentials = head["Authorization"] else {
                return respond(head, on: connection, 401, "Unauthorized", method: "AUTH",
                               extra: [.init("WWW-Authenticate", Digest.challenge(realm: realm, nonce: nonces.make(now: now)))])
            }
            switch Digest.verify(credentials, realm: realm, nonces: nonces, now: now, ha1For: ha1For) {
            case .valid:
                break
            case .stale:
                return respond(head, on: connection, 401, "Unauthorized", method: "AUTH",
                               extra: [.init("WWW-Authenticate", Digest.challenge(realm: realm, nonce: nonces.make(now: now), stale: true))])
            case .invalid:
                authFailures[connection, default: 0] += 1
                var actions = respond(head, on: connection, 403, "Forbidden", method: "AUTH")
                if authFailures[connection, default: 0] >= configuration.maxAuthFailures {
                    actions.append(.close(connection, reason: "too many failed AUTH attempts"))
                }
                return actions
            }
        }
        var expires = configuration.defaultExpires
        if let asked = head["Expires"] {
            guard let value = Int(asked), value >= 0 else { return respond(head, on: connection, 400, "Bad Request", method: "AUTH") }
            guard (configuration.minExpires...configuration.maxExpires).contains(value) else {
                return respond(head, on: connection, 423, "Interval Out Of Bounds", method: "AUTH", extra: [
                    .init("Min-Expires", String(configuration.minExpires)), .init("Max-Expires", String(configuration.maxExpires)),
                ])
            }
            expires = value
        }
        // A refresh on the same connection keeps the session id; a first AUTH issues one.
        let sid = sessionOf[connection] ?? Self.makeSessionID(using: &generator)
        sessions[sid] = Session(connection: connection, client: fromPath[0], expires: now + UInt64(expires))
        sessionOf[connection] = sid
        authFailures[connection] = nil
        var usePath = configuration.usePathBase
        usePath.sessionID = sid
        return respond(head, on: connection, 200, "OK", method: "AUTH",
                       extra: [.init("Use-Path", usePath.description), .init("Expires", String(expires))])
    }

    /// Whether the sender wants a 200 (RFC 4975 §7.1.1: `Failure-Report: no` → no response at all, `partial` →
    /// errors only).
    public static func wantsSuccessResponse(_ head: MSRPHead) -> Bool {
        let report = head["Failure-Report"]?.lowercased() ?? "yes"
        return report == "yes"
    }

    public static func wantsFailureReport(_ head: MSRPHead) -> Bool {
        (head["Failure-Report"]?.lowercased() ?? "yes") != "no"
    }

    /// A response to `request` (hop by hop: To-Path is the request's From-Path, whose first URI is the previous
    /// hop; From-Path the URI the request named us by). None for REPORTs, or when Failure-Report says no.
    private func respond(_ request: MSRPHead, on connection: ConnectionID, _ code: Int, _ comment: String, method: String,
                         extra: [MSRPHead.Field] = []) -> [Action] {
        if method == "REPORT" { return [] }
        if code != 200, method != "AUTH", !Self.wantsFailureReport(request) { return [] }
        return [.respond(connection, Self.response(to: request, code, comment, extra: extra))]
    }

    public static func response(to request: MSRPHead, _ code: Int, _ comment: String, extra: [MSRPHead.Field] = []) -> MSRPHead {
        let previous = (request["From-Path"] ?? "").split(separator: " ").first.map(String.init) ?? ""
        let me = (request["To-Path"] ?? "").split(separator: " ").first.map(String.init) ?? ""
        return MSRPHead(transactionID: request.transactionID, startLine: .response(code: code, comment: comment),
                        fields: [.init("To-Path", previous), .init("From-Path", me)] + extra)
    }

    /// The REPORT a relay sends back toward the source when a forwarded request failed downstream or timed out
    /// (RFC 4976 §6.4; `Status: 000 <code>`), or nil when the request's Failure-Report does not want one.
    public static func failureReport(for original: MSRPHead, code: Int, comment: String,
                                     generator: inout some RandomNumberGenerator) -> MSRPHead? {
        guard original.method == "SEND", wantsFailureReport(original) else { return nil }
        let me = (original["To-Path"] ?? "").split(separator: " ").first.map(String.init) ?? ""
        var fields: [MSRPHead.Field] = [.init("To-Path", original["From-Path"] ?? ""), .init("From-Path", me)]
        if let id = original["Message-ID"] { fields.append(.init("Message-ID", id)) }
        if let range = original["Byte-Range"] { fields.append(.init("Byte-Range", range)) }
        fields.append(.init("Status", "000 \(code) \(comment)"))
        return MSRPHead(transactionID: MSRPHead.makeTransactionID(using: &generator), startLine: .request(method: "REPORT"),
                        fields: fields)
    }

    // MARK: Connections and time

    /// A connection closed: its session ends with it.
    public mutating func connectionClosed(_ connection: ConnectionID) {
        if let sid = sessionOf.removeValue(forKey: connection) { sessions[sid] = nil }
        authFailures[connection] = nil
    }

    /// Drops sessions whose AUTH expired; a sweep at most once a second, however often it is called (an
    /// expired session is refused by `received` anyway, so the sweep only frees memory).
    public mutating func expire(now: UInt64) {
        guard now >= nextSweep else { return }
        nextSweep = now + 1
        for (sid, session) in sessions where session.expires <= now {
            sessions[sid] = nil
            sessionOf[session.connection] = nil
        }
    }

    public var sessionCount: Int { sessions.count }
}
