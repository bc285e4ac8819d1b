/// The decisions of an MSRP relay (RFC 4976, with RFC 7977's WebSocket legs) as a state machine: the I/O layer
/// reports each chunk head that arrives, each forwarded request it sent, each closed connection and the passing of
/// time; the relay answers with actions — respond, forward (to a connection it holds or to a remote next hop),
/// report a failure back to a source, close. It never touches bytes on the wire or a clock of its own (`now` is
/// passed in), so every rule, the 30 s transaction timeout among them, is unit-tested without sockets or waiting.
///
/// Sessions: a successful AUTH binds a new session id (≥ 80 random bits) to the connection it came on and to the
/// client's own URI (the first of its `From-Path`); the relay's URI with that session id goes back as `Use-Path`.
/// A request whose `To-Path` starts with one of the relay's URIs is either the bound client's, going out (it
/// must arrive on the bound connection, from the bound URI), or someone else's, going in to that client (the
/// next URI must be the bound client's). A relay node owns only the sessions it issued; nodes of one domain
/// share credentials, nothing else.
///
/// Transactions: responses are hop by hop, so the relay answers the source itself and then stays responsible for
/// what it forwarded. A next hop that answers an error, cannot be reached, or stays silent past the transaction
/// timeout makes the relay send a failure REPORT back to the source, when the request's `Failure-Report` asks
/// for one (`MSRPRelay+Transactions.swift`).
public struct MSRPRelay: Sendable {
    public typealias ConnectionID = Int

    public struct Configuration: Sendable {
        /// URIs this relay answers to, without session ids: one per listener (`msrp://host:port;tcp`,
        /// `msrp://host:port;ws`, their `msrps` forms). Any URI matching one (session id aside) is ours.
        public var ownURIs: [MSRPURI]
        /// The listener URI `Use-Path` names (other peers reach the relay there; RFC 7977 §8.1 uses TCP/TLS).
        public var usePathBase: MSRPURI
        /// Digest realm; nil: no Digest challenge (AUTH is then admitted on a connection whose WebSocket handshake
        /// authenticated it, RFC 7977 §5.3.1, or from anyone when `allowsAnonymousAUTH`).
        public var realm: String?
        /// Whether an AUTH with neither Digest (no realm) nor a handshake identity is admitted. True keeps the
        /// engine's first behaviour; the gateway sets it false when the relay's WebSocket leg has `auth`, so
        /// that only authenticated connections get a session.
        public var allowsAnonymousAUTH = true
        public var minExpires: Int = 60
        public var maxExpires: Int = 3600
        public var defaultExpires: Int = 900
        /// Failed credential attempts a connection gets before it is closed.
        public var maxAuthFailures: Int = 3
        /// How long a forwarded request waits for the next hop's response before the relay gives up on it
        /// (RFC 4975 §7.1.1 suggests 30 s) and, with `Failure-Report: yes`, reports `408` to the source.
        public var transactionTimeout: Duration = .seconds(30)

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
        /// Forward the request (rewritten: new transaction id, paths shifted) with the chunk's body to `to`, and
        /// tell the relay what went out (`sent(_:on:original:from:now:)`). `original` is the head as received,
        /// for a failure REPORT if the next hop fails.
        case forward(MSRPHead, to: NextHop, original: MSRPHead, from: ConnectionID)
        /// Send this failure REPORT (a request without a body) on the connection: the source of a forwarded
        /// request learns that the next hop refused it, could not be reached or did not answer.
        case report(ConnectionID, MSRPHead)
        case close(ConnectionID, reason: String)
    }

    struct Session: Sendable {
        var connection: ConnectionID
        var client: MSRPURI
        /// Who the session belongs to: the handshake identity's subject or the Digest user; nil for anonymous.
        var owner: String?
        /// In seconds of the I/O layer's clock.
        var expires: UInt64
    }

    public var configuration: Configuration
    let nonces: NonceIssuer
    var sessions: [String: Session] = [:]
    var sessionOf: [ConnectionID: String] = [:]
    var authFailures: [ConnectionID: Int] = [:]
    /// Connections whose WebSocket handshake proved an identity (its subject), for AUTH without Digest.
    var handshakeIdentities: [ConnectionID: String] = [:]
    var nextSweep: UInt64 = 0
    /// Forwarded requests awaiting their next hop's response, by the transaction id they were sent with.
    var pending: [String: PendingTransaction] = [:]
    /// When each pending transaction times out, in the order they were sent (so, with one timeout for all, in
    /// deadline order); answered transactions leave their entry behind until it is reached or compacted away.
    var deadlines = DeadlineQueue()
    /// The transactions the last `expireTransactions` gave up on, with the connection each went out on: the I/O
    /// layer stops waiting for their answers too (a leg's window of streamed pieces).
    public internal(set) var lastExpired: [(transactionID: String, nextHop: ConnectionID)] = []
    /// Transaction ids of forwarded requests (session ids use the generator passed in).
    var transactionIDs = TransactionIDRandom()

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

    // MARK: Connections and time

    /// A connection closed: its session ends with it. Transactions it was the source of stay until answered or
    /// timed out (their REPORT then names a connection the I/O layer no longer has, and is dropped there).
    /// Transactions that went out on it will never be answered: each is a failure now, not at its deadline —
    /// `408` to the sources that asked (RFC 4975 §7.1.1 treats a transaction the connection failed under as timed
    /// out), whether its chunk went out whole or the next hop vanished in the middle of it.
    public mutating func connectionClosed(_ connection: ConnectionID, generator: inout some RandomNumberGenerator) -> [Action] {
        if let sid = sessionOf.removeValue(forKey: connection) { sessions[sid] = nil }
        authFailures[connection] = nil
        handshakeIdentities[connection] = nil
        let lost = pending.filter { $0.value.nextHop == connection }
        var actions: [Action] = []
        for (transactionID, transaction) in lost.sorted(by: { $0.key < $1.key }) {
            pending[transactionID] = nil
            actions += reportFailure(transaction.original, toward: transaction.source, code: 408,
                                     comment: "Next Hop Connection Lost", generator: &generator)
        }
        return actions
    }

    /// The connection's WebSocket handshake authenticated `subject` (the leg's service has `auth`): its AUTH
    /// is admitted for that identity without Digest (RFC 7977 §5.3.1), and the session it gets — the
    /// `Use-Path` URI — belongs to that identity.
    public mutating func connectionAuthenticated(_ connection: ConnectionID, as subject: String) {
        handshakeIdentities[connection] = subject
    }

    /// The owner of the session `sessionID`, if it exists (the handshake identity, the Digest user, or nil).
    public func owner(ofSession sessionID: String) -> String?? {
        sessions[sessionID].map(\.owner)
    }

    /// Drops sessions whose AUTH expired; a sweep at most once a second, however often it is called (an
    /// expired session is refused by `received` anyway, so the sweep only frees memory).
    public mutating func expireSessions(now: MSRPInstant) {
        let now = now.seconds
        guard now >= nextSweep else { return }
        nextSweep = now + 1
        for (sid, session) in sessions where session.expires <= now {
            sessions[sid] = nil
            sessionOf[session.connection] = nil
        }
    }

    public var sessionCount: Int { sessions.count }
}
