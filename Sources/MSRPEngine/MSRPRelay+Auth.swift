/// AUTH (RFC 4976 §5): the Digest challenge, `Expires` bounds, and the session a successful AUTH binds.
extension MSRPRelay {
    /// `now` in seconds, as nonces and `Expires` count.
    mutating func auth(_ head: MSRPHead, from fromPath: [MSRPURI], on connection: ConnectionID, now: UInt64,
                               ha1For: (String) -> String?, generator: inout some RandomNumberGenerator) -> [Action] {
        var owner: String?
        if let identity = handshakeIdentities[connection] {
            owner = identity  // the WebSocket handshake proved it: no Digest on top (RFC 7977 §5.3.1)
        } else if let realm = configuration.realm {
            guard let credentials = head["Authorization"] else {
                return respond(head, on: connection, 401, "Unauthorized", method: "AUTH",
                               extra: [.init("WWW-Authenticate", Digest.challenge(realm: realm, nonce: nonces.make(now: now)))])
            }
            switch Digest.verify(credentials, realm: realm, nonces: nonces, now: now, ha1For: ha1For) {
            case .valid:
                owner = Digest.parameters(credentials)?["username"]
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
        } else if !configuration.allowsAnonymousAUTH {
            // Neither Digest nor a handshake identity: this connection did not authenticate anywhere.
            return respond(head, on: connection, 403, "Forbidden", method: "AUTH")
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
        sessions[sid] = Session(connection: connection, client: fromPath[0], owner: owner, expires: now + UInt64(expires))
        sessionOf[connection] = sid
        authFailures[connection] = nil
        var usePath = configuration.usePathBase
        usePath.sessionID = sid
        return respond(head, on: connection, 200, "OK", method: "AUTH",
                       extra: [.init("Use-Path", usePath.description), .init("Expires", String(expires))])
    }

}
