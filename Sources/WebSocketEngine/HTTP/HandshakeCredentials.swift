/// Where an opening handshake may carry its credential, per service and the same on every wire (an RFC 6455
/// or hixie upgrade, a WSR create). Browsers cannot set headers on a WebSocket, hence the query, the cookie and
/// the subprotocol beside `Authorization`.
public struct CredentialSources: Sendable, Hashable {
    /// `Authorization: Bearer <token>` (RFC 6750 §2.1).
    public var authorizationHeader: Bool
    /// The query parameter holding the token (RFC 6750 §2.3); nil: not read. It is removed from the query the
    /// service sees (and so from everything logged after the handshake).
    public var queryParameter: String?
    /// The cookie holding the token; nil: not read.
    public var cookie: String?
    /// A `Sec-WebSocket-Protocol` entry `base64url.bearer.authorization.k8s.io.<base64url token>` (Kubernetes'
    /// form for browsers); the entry is removed from the offer the service sees, so it is never echoed back.
    public var subprotocol: Bool

    public init(authorizationHeader: Bool = true, queryParameter: String? = "access_token", cookie: String? = "access_token",
                subprotocol: Bool = true) {
        self.authorizationHeader = authorizationHeader
        self.queryParameter = queryParameter
        self.cookie = cookie
        self.subprotocol = subprotocol
    }

    /// All four: the header, `access_token` as query parameter and as cookie, and the subprotocol entry.
    public static let `default` = CredentialSources()

    /// The prefix of the Kubernetes subprotocol form.
    public static let subprotocolPrefix = "base64url.bearer.authorization.k8s.io."
}

/// Which of `CredentialSources` a credential came from (for the log and the identity, never the token).
public enum CredentialSource: String, Sendable, Hashable {
    case authorizationHeader = "header"
    case query
    case cookie
    case subprotocol
}

/// A bearer token found in a handshake: a JWT or an API key, which the service's methods tell apart.
public struct PresentedToken: Sendable, Hashable {
    public var token: String
    public var source: CredentialSource
    public init(token: String, source: CredentialSource) {
        self.token = token
        self.source = source
    }
}

/// Why a handshake's credential could not even be read: answered `400 invalid_request`, or `401 invalid_token`
/// for a token too long to be one (RFC 6750 §3.1).
public enum CredentialError: Error, Sendable, Hashable, CustomStringConvertible {
    /// Not readable as the source's syntax (two `Authorization` fields, broken base64url, …).
    case malformed(String)
    /// More than one of header, query and subprotocol carried a token (RFC 6750 §2: one method per request).
    case ambiguous([CredentialSource])
    /// Longer than `HandshakeCredentials.maxTokenLength`.
    case tooLong(CredentialSource, Int)

    public var description: String {
        switch self {
        case .malformed(let why): return why
        case .ambiguous(let sources):
            return "a token came in more than one way (\(sources.map(\.rawValue).joined(separator: ", "))); send one (RFC 6750 §2)"
        case .tooLong(let source, let length):
            return "the \(source.rawValue) token is \(length) bytes, more than \(HandshakeCredentials.maxTokenLength)"
        }
    }
}

/// The credential of one handshake, read from the sources a service allows, and the request as the service
/// must see it afterwards: the query without the token parameter, the subprotocol offer without the token
/// entry. Pure parsing, no verification: that is the service's authentication methods' job.
///
/// Precedence: the header, the subprotocol and the query are explicit, so two of them at once is refused
/// (RFC 6750 §2); the cookie is ambient (a browser sends it unasked), so it is read only when none of the
/// others carried a token.
public struct HandshakeCredentials: Sendable, Hashable {
    /// The longest token read. RFC 7519 sets none; 8 KiB holds any sane JWT (an RS256 token with a few dozen
    /// claims is under 1 KiB) while keeping hostile ones from reaching the JSON decoder.
    public static let maxTokenLength = 8192

    /// The token presented, nil when none was.
    public var token: PresentedToken?
    /// The query without the token's parameter (nil when nothing is left).
    public var query: String?
    /// The offered subprotocols without the token entry, in the client's order.
    public var offeredSubprotocols: [String]

    public init(token: PresentedToken?, query: String?, offeredSubprotocols: [String]) {
        self.token = token
        self.query = query
        self.offeredSubprotocols = offeredSubprotocols
    }

    /// Reads the credential of a handshake from `sources`.
    public static func read(headers: HTTPFields, query: String?, offeredSubprotocols: [String],
                            sources: CredentialSources) -> Result<HandshakeCredentials, CredentialError> {
        var explicit: [PresentedToken] = []
        var remainingQuery = query
        var remainingSubprotocols = offeredSubprotocols
        do {
            if sources.authorizationHeader, let token = try bearerToken(in: headers) {
                explicit.append(PresentedToken(token: token, source: .authorizationHeader))
            }
            if sources.subprotocol {
                let (token, rest) = try subprotocolToken(in: offeredSubprotocols)
                if let token { explicit.append(PresentedToken(token: token, source: .subprotocol)) }
                remainingSubprotocols = rest
            }
            if let name = sources.queryParameter, let query {
                let (token, rest) = try queryToken(named: name, in: query)
                if let token { explicit.append(PresentedToken(token: token, source: .query)) }
                remainingQuery = rest
            }
            if explicit.count > 1 { return .failure(.ambiguous(explicit.map(\.source))) }
            var presented = explicit.first
            if presented == nil, let name = sources.cookie, let token = try cookieToken(named: name, in: headers) {
                presented = PresentedToken(token: token, source: .cookie)
            }
            if let presented, presented.token.utf8.count > maxTokenLength {
                return .failure(.tooLong(presented.source, presented.token.utf8.count))
            }
            return .success(HandshakeCredentials(token: presented, query: remainingQuery,
                                                 offeredSubprotocols: remainingSubprotocols))
        } catch {
            return .failure(error)
        }
    }

    /// The token of `Authorization: Bearer <b64token>` (RFC 6750 §2.1); nil without the field or for another
    /// scheme (`Basic` is no bearer token: the methods then see no credential).
    static func bearerToken(in headers: HTTPFields) throws(CredentialError) -> String? {
        let values = headers.values("Authorization")
        guard let value = values.first else { return nil }
        guard values.count == 1 else { throw .malformed("more than one Authorization field") }
        let trimmed = value.trimmingOWS()
        guard let space = trimmed.firstIndex(of: " ") else {
            if trimmed.caseInsensitiveEquals("Bearer") { throw .malformed("Authorization: Bearer without a token") }
            return nil
        }
        guard trimmed[..<space].caseInsensitiveEquals("Bearer") else { return nil }
        let token = trimmed[space...].trimmingOWS()
        guard !token.isEmpty else { throw .malformed("Authorization: Bearer without a token") }
        guard isB64Token(token) else {
            throw .malformed("the Authorization bearer token has characters outside RFC 6750's b64token")
        }
        return token
    }

    /// The token of a `base64url.bearer.authorization.k8s.io.<token>` entry and the offer without it.
    static func subprotocolToken(in offered: [String]) throws(CredentialError) -> (String?, [String]) {
        let prefix = CredentialSources.subprotocolPrefix
        let entries = offered.filter { $0.hasPrefix(prefix) }
        guard let entry = entries.first else { return (nil, offered) }
        guard entries.count == 1 else { throw .malformed("more than one \(prefix)… subprotocol entry") }
        let encoded = String(entry.dropFirst(prefix.count))
        guard encoded.utf8.count <= maxTokenLength * 4 / 3 + 4 else {
            throw .tooLong(.subprotocol, encoded.utf8.count * 3 / 4)
        }
        guard let bytes = Base64.decodeURLSafe(encoded), !bytes.isEmpty,
              let token = String(validating: bytes, as: UTF8.self), isB64Token(token) else {
            throw .malformed("the \(prefix)… subprotocol entry is not base64url of a token")
        }
        return (token, offered.filter { !$0.hasPrefix(prefix) })
    }

    /// The percent-decoded value of the query parameter `name` and the query without it (RFC 3986 `%XX`;
    /// `+` stays `+`, since tokens hold no spaces and base64 holds `+`).
    package static func queryToken(named name: String, in query: String) throws(CredentialError) -> (String?, String?) {
        var token: String?
        var kept: [Substring] = []
        for pair in query.split(separator: "&", omittingEmptySubsequences: false) {
            let key = pair.prefix { $0 != "=" }
            guard percentDecoded(key) == name else { kept.append(pair); continue }
            guard token == nil else { throw .malformed("the query parameter \(name) is given more than once") }
            guard key.endIndex < pair.endIndex, let value = percentDecoded(pair[pair.index(after: key.endIndex)...]),
                  !value.isEmpty else {
                throw .malformed("the query parameter \(name) has no value or broken %-escapes")
            }
            token = value
        }
        guard token != nil else { return (nil, query) }
        let rest = kept.joined(separator: "&")
        return (token, rest.isEmpty ? nil : rest)
    }

    /// The first cookie `name` in the `Cookie` fields (RFC 6265 §5.4: the browser lists the most specific path
    /// first), its value unquoted.
    static func cookieToken(named name: String, in headers: HTTPFields) throws(CredentialError) -> String? {
        for field in headers.values("Cookie") {
            for pair in field.split(separator: ";") {
                let trimmed = pair.trimmingOWS()
                guard let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == name else { continue }
                var value = trimmed[trimmed.index(after: eq)...]
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                guard !value.isEmpty else { throw .malformed("the cookie \(name) is empty") }
                return String(value)
            }
        }
        return nil
    }

    /// RFC 6750 §2.1 `b64token`: `( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
    static func isB64Token(_ token: String) -> Bool {
        var sawPadding = false
        for byte in token.utf8 {
            switch byte {
            case UInt8(ascii: "="): sawPadding = true
            case _ where sawPadding: return false
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "+"), UInt8(ascii: "/"):
                continue
            default: return false
            }
        }
        return !token.isEmpty && token.utf8.first != UInt8(ascii: "=")
    }

    /// `%XX` decoded, as UTF-8; nil for a broken escape or bytes that are not UTF-8.
    package static func percentDecoded<S: StringProtocol>(_ text: S) -> String? {
        var bytes: [UInt8] = []
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "%") else { bytes.append(byte); continue }
            guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else { return nil }
            bytes.append(high << 4 | low)
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// The value of one hex digit, either case.
    package static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}
