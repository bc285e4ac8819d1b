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

    /// Parsed on the UTF-8 bytes (every routed request parses its To-Path and From-Path: String.Index walking and
    /// lowercased copies were a fifth of a relay's CPU).
    public init(parsing text: some StringProtocol) throws(ParseError) {
        let bytes = Array(text.utf8)
        try self.init(bytes: bytes[...])
    }

    init(bytes b: ArraySlice<UInt8>) throws(ParseError) {
        var i = b.startIndex
        if Self.hasPrefixIgnoringCase(b, "msrps://") {
            secure = true
            i += 8
        } else if Self.hasPrefixIgnoringCase(b, "msrp://") {
            secure = false
            i += 7
        } else {
            throw .scheme
        }
        // authority ends at "/" (session id) or ";" (transport).
        guard let semicolon = b[i...].firstIndex(of: UInt8(ascii: ";")) else { throw .transport }
        var authority = b[i..<semicolon]
        sessionID = nil
        if let slash = authority.firstIndex(of: UInt8(ascii: "/")) {
            let sid = b[(slash + 1)..<semicolon]
            guard !sid.isEmpty, sid.allSatisfy(Self.isSessionIDCharacter) else { throw .sessionID }
            sessionID = String(decoding: sid, as: UTF8.self)
            authority = b[i..<slash]
        }
        userinfo = nil
        if let at = authority.lastIndex(of: UInt8(ascii: "@")) {
            userinfo = String(decoding: authority[..<at], as: UTF8.self)
            authority = authority[(at + 1)...]
        }
        port = nil
        let hostBytes: ArraySlice<UInt8>
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { throw .authority }
            hostBytes = authority[(authority.startIndex + 1)..<close]
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":"), let p = Self.port(after.dropFirst()) else { throw .port }
                port = p
            }
        } else if let colon = authority.firstIndex(of: UInt8(ascii: ":")) {
            hostBytes = authority[..<colon]
            guard let p = Self.port(authority[(colon + 1)...]) else { throw .port }
            port = p
        } else {
            hostBytes = authority
        }
        guard !hostBytes.isEmpty, !hostBytes.contains(where: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "@") }) else {
            throw .authority
        }
        host = String(decoding: hostBytes, as: UTF8.self)
        let params = b[(semicolon + 1)...].split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: false)
        guard let first = params.first, !first.isEmpty, first.allSatisfy({ Self.isTokenCharacter($0) }) else { throw .transport }
        transport = String(decoding: first, as: UTF8.self)
        parameters = params.dropFirst().map { String(decoding: $0, as: UTF8.self) }
    }

    /// 0...65535 in decimal digits only.
    private static func port(_ digits: ArraySlice<UInt8>) -> Int? {
        guard !digits.isEmpty, digits.count <= 5 else { return nil }
        var value = 0
        for d in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(d) else { return nil }
            value = value * 10 + Int(d - UInt8(ascii: "0"))
        }
        return value <= 65535 ? value : nil
    }

    private static func hasPrefixIgnoringCase(_ bytes: ArraySlice<UInt8>, _ prefix: StaticString) -> Bool {
        guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
        return prefix.withUTF8Buffer { p in
            zip(bytes.prefix(p.count), p).allSatisfy { ASCIICase.fold($0) == $1 }
        }
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
        out += host.utf8.contains(UInt8(ascii: ":")) ? "[\(host)]" : host
        if let port { out += ":\(port)" }
        if let sessionID { out += "/" + sessionID }
        out += ";" + transport
        for p in parameters { out += ";" + p }
        return out
    }

    /// RFC 4975 §6.1.
    public func matches(_ other: MSRPURI) -> Bool {
        secure == other.secure
            && port == other.port
            && sessionID == other.sessionID
            && ASCIICase.equal(host, other.host)
            && ASCIICase.equal(transport, other.transport)
    }

    /// A path header's URIs (`To-Path`, `From-Path`, `Use-Path`: URIs separated by spaces).
    public static func parsePath(_ value: some StringProtocol) throws(ParseError) -> [MSRPURI] {
        let bytes = Array(value.utf8)
        var out: [MSRPURI] = []
        for part in bytes.split(whereSeparator: { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) {
            out.append(try MSRPURI(bytes: part))
        }
        guard !out.isEmpty else { throw .authority }
        return out
    }
}
