/// The relay's responsibility for what it forwarded. Responses are hop by hop (RFC 4975 §7.1.1): the relay
/// answers the source itself, then waits for the next hop's response to its own transaction. A next hop that
/// answers an error, cannot be reached, or stays silent past `transactionTimeout` becomes a failure REPORT back
/// to the source (RFC 4976: `Status: 000 <code>`, with the original Message-ID and Byte-Range) — when the
/// request's `Failure-Report` asks for one: `yes` for every failure, `partial` for errors only (silence means
/// success there), `no` for none.
extension MSRPRelay {
    /// A forwarded request that the relay still answers for.
    struct PendingTransaction: Sendable {
        /// The request as the source sent it: what a failure REPORT quotes.
        var original: MSRPHead
        var source: ConnectionID
        /// Where it went: only that connection's response settles it.
        var nextHop: ConnectionID
        /// `Failure-Report: yes`: silence past the deadline is a failure (`408`); with `partial` it is success.
        var silenceIsFailure: Bool
    }

    /// Why a forward never reached a next hop.
    public enum ForwardFailure: Sendable, Equatable {
        /// No connection to the remote next hop could be opened.
        case unreachable
        /// The client connection the session is bound to closed before the request could go out.
        case connectionGone
    }

    /// A forwarded request — or one piece of it, when the I/O layer re-chunked it for a WebSocket leg — went out
    /// on `nextHop` at `now`. Requests that get no response (REPORTs, `Failure-Report: no`) are not tracked.
    public mutating func sent(_ request: MSRPHead, on nextHop: ConnectionID, original: MSRPHead, from source: ConnectionID,
                              now: MSRPInstant) {
        guard request.method != "REPORT", Self.wantsFailureReport(request) else { return }
        pending[request.transactionID] = PendingTransaction(original: original, source: source, nextHop: nextHop,
                                                            silenceIsFailure: Self.wantsSuccessResponse(request))
        deadlines.append(now + configuration.transactionTimeout, request.transactionID)
        deadlines.compact(keeping: pending)
    }

    /// A response arrived: it settles the pending transaction it names, if it came from where the request went;
    /// anything but `200` is a failure to report.
    mutating func responseArrived(_ response: MSRPHead, on connection: ConnectionID,
                                  generator: inout some RandomNumberGenerator) -> [Action] {
        guard let transaction = pending[response.transactionID], transaction.nextHop == connection else { return [] }
        pending[response.transactionID] = nil
        guard case .response(let code, let comment) = response.startLine, code != 200 else { return [] }
        return reportFailure(transaction.original, toward: transaction.source, code: code, comment: comment ?? "Failed",
                      generator: &generator)
    }

    /// A `forward` action could not be carried out: the source hears `481`, as it would from a next hop that
    /// does not know the session.
    public mutating func forwardFailed(_ original: MSRPHead, from source: ConnectionID, because failure: ForwardFailure,
                                       generator: inout some RandomNumberGenerator) -> [Action] {
        let comment = failure == .unreachable ? "Next Hop Unreachable" : "Session Does Not Exist"
        return reportFailure(original, toward: source, code: 481, comment: comment, generator: &generator)
    }

    /// Transactions whose deadline passed by `now` are given up: `408` to the sources that asked for it. The I/O
    /// layer calls this when the timer it set for `nextTransactionDeadline()` fires.
    public mutating func expireTransactions(now: MSRPInstant, generator: inout some RandomNumberGenerator) -> [Action] {
        var actions: [Action] = []
        lastExpired.removeAll()
        while let (deadline, transactionID) = deadlines.first, deadline <= now {
            deadlines.removeFirst()
            guard let transaction = pending.removeValue(forKey: transactionID) else { continue }
            lastExpired.append((transactionID, transaction.nextHop))
            guard transaction.silenceIsFailure else { continue }
            actions += reportFailure(transaction.original, toward: transaction.source, code: 408, comment: "Request Timeout",
                              generator: &generator)
        }
        return actions
    }

    /// When the earliest pending transaction times out, or nil when none is pending: the I/O layer's timer.
    /// Mutating because it drops the entries of transactions answered since, so a timer is not set for them.
    public mutating func nextTransactionDeadline() -> MSRPInstant? {
        while let (deadline, transactionID) = deadlines.first {
            if pending[transactionID] != nil { return deadline }
            deadlines.removeFirst()
        }
        return nil
    }

    /// How many forwarded requests await their next hop's response.
    public var pendingTransactionCount: Int { pending.count }

    func reportFailure(_ original: MSRPHead, toward source: ConnectionID, code: Int, comment: String,
                        generator: inout some RandomNumberGenerator) -> [Action] {
        guard let head = Self.failureReport(for: original, code: code, comment: comment, generator: &generator) else { return [] }
        return [.report(source, head)]
    }
}

/// Transaction deadlines in the order they were set — with one timeout for all, the order they fall due in — as an
/// array read from a moving start: appending and taking the first are O(1), with no per-transaction timer.
struct DeadlineQueue: Sendable {
    private var entries: [(deadline: MSRPInstant, transactionID: String)] = []
    private var start = 0

    /// Entries held, answered ones included.
    var heldCount: Int { entries.count - start }

    var first: (MSRPInstant, String)? {
        start < entries.count ? (entries[start].deadline, entries[start].transactionID) : nil
    }

    mutating func append(_ deadline: MSRPInstant, _ transactionID: String) {
        entries.append((deadline, transactionID))
    }

    mutating func removeFirst() {
        start += 1
        if start == entries.count {
            entries.removeAll(keepingCapacity: true)
            start = 0
        }
    }

    /// Answered transactions leave their entries behind; once they outnumber the pending ones (and there are
    /// enough to be worth it) they are dropped, so memory follows what is pending, not what was sent.
    mutating func compact(keeping pending: [String: MSRPRelay.PendingTransaction]) {
        let held = entries.count - start
        guard held > 1024, held > 2 * pending.count else { return }
        entries = entries[start...].filter { pending[$0.transactionID] != nil }
        start = 0
    }
}
