/// A WebSocket URL's components: host, port, resource name and secure flag.
///
/// Parsing follows seed draft-hixie-thewebsocketprotocol-55 §3.1 (scheme `ws`/`wss` case-insensitively,
/// host lower-cased, port 80/443 by default, resource name = path or `/`, plus `?query`), with the rule
/// of RFC 6455 §3 that a fragment makes the URL invalid. Construction follows §3.2.
public struct WebSocketURL: Sendable, Hashable, CustomStringConvertible {
    public var secure: Bool
    /// Lower-cased; an IPv6 literal without its brackets.
    public var host: String
    public var port: Int
    /// Path and query, always starting with `/`.
    public var resourceName: String
    /// `user:password` before the host, if any (for HTTP Basic authentication by the client).
    public var userinfo: String?

    public init(secure: Bool, host: String, port: Int? = nil, resourceName: String = "/", userinfo: String? = nil) {
        self.secure = secure
        self.host = host.lowercased()
        self.port = port ?? (secure ? 443 : 80)
        self.resourceName = resourceName.isEmpty ? "/" : resourceName
        self.userinfo = userinfo
    }

    public enum ParseError: Error, Sendable, Hashable {
        case notAbsolute
        case unsupportedScheme(String)
        case missingHost
        case invalidHost
        case invalidPort
        /// RFC 6455 §3: fragment identifiers MUST NOT be used on WebSocket URIs.
        case fragmentNotAllowed
        case invalidCharacter
    }

    public var defaultPort: Int { secure ? 443 : 80 }

    /// `host` bracketed when it is an IPv6 literal.
    public var hostForURL: String { host.contains(":") ? "[\(host)]" : host }

    /// The `Host` header: the host, plus the port when it is not the default (RFC 6455 §4.1).
    public var hostHeader: String { port == defaultPort ? hostForURL : "\(hostForURL):\(port)" }

    /// §3.2 "construct a Web Socket URL".
    public var description: String {
        (secure ? "wss://" : "ws://") + hostHeader + resourceName
    }

    /// Parses `string`; see the type's documentation for the rules. Delimiters are found in the UTF-8
    /// bytes, not among Characters: `#` followed by a combining mark is one Character but still a `#`.
    public init(parsing string: String) throws(ParseError) {
        // Web address parsers strip leading and trailing C0 controls and spaces.
        let trimmed = string.utf8.drop { $0 <= 0x20 }.reversed().drop { $0 <= 0x20 }.reversed()
        let text = String(decoding: trimmed, as: UTF8.self)
        guard let colon = text.utf8.firstIndex(of: UInt8(ascii: ":")) else { throw .notAbsolute }
        let scheme = text[..<colon].lowercased()
        guard let first = scheme.first, first.isASCII, first.isLetter,
              scheme.utf8.allSatisfy({ isSchemeByte($0) }) else { throw .notAbsolute }
        switch scheme {
        case "ws": secure = false
        case "wss": secure = true
        default: throw .unsupportedScheme(scheme)
        }
        var rest = text[text.index(after: colon)...]
        guard rest.hasPrefix("//") else { throw .notAbsolute }
        rest = rest.dropFirst(2)
        if rest.utf8.contains(UInt8(ascii: "#")) { throw .fragmentNotAllowed }
        guard !rest.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else { throw .invalidCharacter }

        let authorityEnd = rest.utf8.firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") } ?? rest.endIndex
        var authority = rest[..<authorityEnd]
        let pathAndQuery = rest[authorityEnd...]
        if let at = authority.utf8.lastIndex(of: UInt8(ascii: "@")) {
            userinfo = String(authority[..<at])
            authority = authority[authority.index(after: at)...]
        } else {
            userinfo = nil
        }

        var hostPart: Substring
        var portPart: Substring? = nil
        if authority.hasPrefix("[") {
            guard let close = authority.utf8.firstIndex(of: UInt8(ascii: "]")) else { throw .invalidHost }
            hostPart = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { throw .invalidHost }
                portPart = after.dropFirst()
            }
            guard !hostPart.isEmpty, hostPart.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { throw .invalidHost }
        } else if let c = authority.utf8.lastIndex(of: UInt8(ascii: ":")) {
            hostPart = authority[..<c]
            portPart = authority[authority.index(after: c)...]
        } else {
            hostPart = authority
        }
        guard !hostPart.isEmpty else { throw .missingHost }
        let forbidden: Set<Character> = [" ", ":", "%", "<", ">", "[", "]", "\\", "^", "|", "\"", "`", "{", "}", "@", "/", "?", "#"]
        if !authority.hasPrefix("[") {
            guard hostPart.allSatisfy({ $0.isASCII && !forbidden.contains($0) }) else { throw .invalidHost }
        }
        host = hostPart.lowercased()

        if let portPart, !portPart.isEmpty {
            guard portPart.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), portPart.utf8.count <= 5,
                  let p = Int(portPart), p <= 65535 else { throw .invalidPort }
            port = p
        } else {
            port = secure ? 443 : 80
        }

        // Resource name: the path (or "/") plus "?query", with bytes outside U+0021–U+007E percent-encoded
        // as UTF-8, as resolving the URL does.
        var resource = percentEncodeOutsidePrintableASCII(pathAndQuery)
        if resource.isEmpty || resource.hasPrefix("?") { resource = "/" + resource }
        resourceName = resource
    }
}

private func isSchemeByte(_ b: UInt8) -> Bool {
    (b >= 0x61 && b <= 0x7A) || (b >= 0x30 && b <= 0x39) || b == 0x2B || b == 0x2D || b == 0x2E
}

private func percentEncodeOutsidePrintableASCII(_ s: Substring) -> String {
    var out = ""
    out.reserveCapacity(s.utf8.count)
    let hex = Array("0123456789ABCDEF")
    for byte in s.utf8 {
        if byte >= 0x21 && byte <= 0x7E {
            out.unicodeScalars.append(UnicodeScalar(byte))
        } else {
            out.append("%")
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0xF)])
        }
    }
    return out
}
