/// Where a request goes: the relay's checks of To-Path and From-Path against its sessions (RFC 4976), the
/// rewriting of the paths, and the hop-by-hop answer to the source.
extension MSRPRelay {
    /// A chunk head arrived on `connection`: a request to route, or the response to a request the relay forwarded
    /// (see `MSRPRelay+Transactions.swift`). `ha1For(user)` looks credentials up; `generator` makes session and
    /// transaction ids.
    public mutating func received(_ head: MSRPHead, on connection: ConnectionID, now: MSRPInstant,
                                  ha1For: (String) -> String?, generator: inout some RandomNumberGenerator) -> [Action] {
        guard let method = head.method else { return responseArrived(head, on: connection, generator: &generator) }
        let seconds = now.seconds
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
            return auth(head, from: fromPath, on: connection, now: seconds, ha1For: ha1For, generator: &generator)
        }
        if method == "SEND", head["Message-ID"] == nil || head["Byte-Range"].flatMap(ByteRange.init(parsing:)) == nil {
            return respond(head, on: connection, 400, "Bad Request", method: method)
        }
        guard toPath.count >= 2 else {
            // Addressed to the relay itself: it is no endpoint.
            return respond(head, on: connection, method == "SEND" || method == "REPORT" ? 481 : 501,
                           method == "SEND" || method == "REPORT" ? "Session Does Not Exist" : "Not Implemented", method: method)
        }
        guard let sid = toPath[0].sessionID, let session = sessions[sid], session.expires > seconds else {
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
        // The paths are rewritten as text — the first To-Path URI moved to the front of the From-Path, as written
        // — rather than re-serialized from the parsed URIs, for every request the relay forwards.
        let toText = head["To-Path"] ?? "", fromText = head["From-Path"] ?? ""
        let me = Self.firstURI(of: toText), rest = Self.afterFirstURI(of: toText)
        var forwarded = head
        forwarded.transactionID = MSRPHead.makeTransactionID(using: &transactionIDs)
        forwarded["To-Path"] = rest
        forwarded["From-Path"] = me + " " + fromText
        if case .remote(let uri) = hop, isOwn(uri), let innerSid = uri.sessionID, let inner = sessions[innerSid], inner.expires > seconds {
            let innerTo = Array(toPath.dropFirst())
            guard innerTo.count >= 2, innerTo[1].matches(inner.client) else {
                return respond(head, on: connection, 481, "Session Does Not Exist", method: method)
            }
            forwarded["To-Path"] = Self.afterFirstURI(of: rest)
            forwarded["From-Path"] = Self.firstURI(of: rest) + " " + me + " " + fromText
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

}
