/// An MSRP URI (RFC 4975 §9, with RFC 7977's `ws` transport):
/// `msrp[s]://[userinfo@]host[:port][/session-id];transport[;param…]`.
///
/// `==` compares every part as written; `matches` is RFC 4975 §6.1's comparison, which relays use: scheme, host and transport compare without
/// regard to case, userinfo and other parameters are ignored, a port present in either URI must be present
/// and equal in both, and the session id compares exactly.
public struct MSRPURI: Sendable, Hashable, CustomStringConvertible {
    /// `msrps` (TLS, or WSS for a WebSocket leg).
    public var secure: Bool
    public var userinfo: String?
    /// As written (IPv6 literals without their brackets).
    public var host: String
    public var port: Int?
    public var sessionID: String?
    /// `tcp`, `ws`, or another token.
    public var transport: String
    /// Further `;name[=value]` parameters, in order.
    public var parameters: [String]

    public init(secure: Bool, userinfo: String? = nil, host: String, port: Int? = nil, sessionID: String? = nil,
                transport: String = "tcp", parameters: [String] = []) {
        self.secure = secure
        self.userinfo = userinfo
        self.host = host
        self.port = port
        self.sessionID = sessionID
        self.transport = transport
        self.parameters = parameters
    }

    public enum ParseError: Error, Hashable, Sendable {
        case scheme
        case authority
        case port
        case sessionID
        case transport
    }

    /// RFC 4975's `session-id = 1*( unreserved / "+" / "=" / "/" )`; unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~".
    static func isSessionIDCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-._~+=/".utf8.contains(c)
        }
    }

    public init(parsing text: some StringProtocol) throws(ParseError) {
        let s = Substring(text)
        let lower = s.lowercased()
        let rest: Substring
        if lower.hasPrefix("msrps://") {
            secure = true
            rest = s.dropFirst(8)
        } else if lower.hasPrefix("msrp://") {
            secure = false
            rest = s.dropFirst(7)
        } else {
            throw .scheme
        }
        // authority ends at "/" (session id) or ";" (transport).
        guard let semicolon = rest.firstIndex(of: ";") else { throw .transport }
        let beforeParams = rest[..<semicolon]
        var authority = beforeParams
        sessionID = nil
        if let slash = beforeParams.firstIndex(of: "/") {
            authority = beforeParams[..<slash]
            let sid = beforeParams[beforeParams.index(after: slash)...]
            guard !sid.isEmpty, sid.utf8.allSatisfy(Self.isSessionIDCharacter) else { throw .sessionID }
            sessionID = String(sid)
        }
        userinfo = nil
        if let at = authority.lastIndex(of: "@") {
            userinfo = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        }
        port = nil
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { throw .authority }
            host = String(authority[authority.index(after: authority.startIndex)..<close])
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()), (0...65535).contains(p) else { throw .port }
                port = p
            }
        } else if let colon = authority.firstIndex(of: ":") {
            host = String(authority[..<colon])
            guard let p = Int(authority[authority.index(after: colon)...]), (0...65535).contains(p) else { throw .port }
            port = p
        } else {
            host = String(authority)
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "/" || $0 == "@" }) else { throw .authority }
        let params = rest[rest.index(after: semicolon)...].split(separator: ";", omittingEmptySubsequences: false)
        guard let first = params.first, !first.isEmpty, first.utf8.allSatisfy({ Self.isTokenCharacter($0) }) else { throw .transport }
        transport = String(first)
        parameters = params.dropFirst().map(String.init)
    }

    static func isTokenCharacter(_ c: UInt8) -> Bool {
        switch c {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        default:
            return "-.!%*_+`'~".utf8.contains(c)
        }
    }

    public var description: String {
        var out = secure ? "msrps://" : "msrp://"
        if let userinfo { out += userinfo + "@" }
        out += host.contains(":") ? "[\(host)]" : host
        if let port { out += ":\(port)" }
        if let sessionID { out += "/" + sessionID }
        out += ";" + transport
        for p in parameters { out += ";" + p }
        return out
    }

    /// RFC 4975 §6.1.
    public func matches(_ other: MSRPURI) -> Bool {
        secure == other.secure
            && host.lowercased() == other.host.lowercased()
            && port == other.port
            && sessionID == other.sessionID
            && transport.lowercased() == other.transport.lowercased()
    }

    /// A path header's URIs (`To-Path`, `From-Path`, `Use-Path`: URIs separated by spaces).
    public static func parsePath(_ value: some StringProtocol) throws(ParseError) -> [MSRPURI] {
        var out: [MSRPURI] = []
        for part in value.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            out.append(try MSRPURI(parsing: part))
        }
        guard !out.isEmpty else { throw .authority }
        return out
    }
}
