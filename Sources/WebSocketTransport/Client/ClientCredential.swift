import WebSocketEngine

/// A bearer token the client presents in its opening handshake, placed the way the server's
/// `CredentialSources` read it (a browser can only use the query, a cookie or the subprotocol).
public struct ClientCredential: Sendable, Hashable {
    public enum Placement: Sendable, Hashable {
        /// `Authorization: Bearer <token>`.
        case header
        /// `?<name>=<token>` on the URL.
        case query(String)
        /// `Cookie: <name>=<token>`.
        case cookie(String)
        /// A first `Sec-WebSocket-Protocol` entry `base64url.bearer.authorization.k8s.io.<base64url token>`.
        case subprotocol
    }

    public var token: String
    public var placement: Placement

    public init(token: String, placement: Placement = .header) {
        self.token = token
        self.placement = placement
    }

    /// `url`, `headers` and `subprotocols` with the token placed.
    func place(in url: inout WebSocketURL, headers: inout HTTPFields, subprotocols: inout [String]) {
        switch placement {
        case .header:
            headers.add("Authorization", "Bearer \(token)")
        case .query(let name):
            let separator = url.resourceName.contains("?") ? "&" : "?"
            url.resourceName += separator + Self.percentEncoded(name) + "=" + Self.percentEncoded(token)
        case .cookie(let name):
            headers.add("Cookie", "\(name)=\(token)")
        case .subprotocol:
            subprotocols.insert(CredentialSources.subprotocolPrefix + Base64.encodeURLSafe(token.utf8), at: 0)
        }
    }

    /// RFC 3986 unreserved characters kept, every other byte `%XX`.
    static func percentEncoded(_ text: String) -> String {
        let digits = Array("0123456789ABCDEF")
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.append(Character(Unicode.Scalar(byte)))
            default:
                out += "%" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
            }
        }
        return out
    }
}

extension WebSocketClientConfiguration {
    /// `url` and this configuration with the credential placed (both unchanged without one).
    func placingCredential(in url: WebSocketURL) -> (WebSocketURL, WebSocketClientConfiguration) {
        guard let credential else { return (url, self) }
        var url = url
        var configuration = self
        credential.place(in: &url, headers: &configuration.headers, subprotocols: &configuration.subprotocols)
        configuration.credential = nil
        return (url, configuration)
    }
}
