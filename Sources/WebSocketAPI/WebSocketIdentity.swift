/// Who opened a connection, as the service's access control established it at the handshake. A service
/// without `auth` sees none; with it, every connection it gets carries one (the refused never reach it).
public struct WebSocketIdentity: Sendable, Hashable {
    /// How the client proved who it is: `jwt`, `api_key` or `mtls`.
    public var method: String
    /// The JWT's `sub`, the API key's name, or the client certificate's subject.
    public var subject: String
    /// Everything else the credential asserted: a JWT's claims, a certificate's `san` and `subject`.
    public var claims: [String: ClaimValue]

    public init(method: String, subject: String, claims: [String: ClaimValue] = [:]) {
        self.method = method
        self.subject = subject
        self.claims = claims
    }
}

/// One claim's value: JSON's types, so that a JWT's claims reach a service as the issuer wrote them.
public indirect enum ClaimValue: Sendable, Hashable, Codable {
    case string(String)
    case number(Double)
    case bool(Bool)
    case array([ClaimValue])
    case object([String: ClaimValue])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([ClaimValue].self) { self = .array(value) }
        else { self = .object(try container.decode([String: ClaimValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .string(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// The claim as a set of words, the way OAuth scopes are written: a string's space-separated words
    /// (`"scope": "read vnc"`, RFC 8693 §4.2), an array's string elements; nil for other types.
    public var words: [String]? {
        switch self {
        case .string(let value): return value.split(separator: " ").map(String.init)
        case .array(let items):
            return items.compactMap { if case .string(let s) = $0 { return s } else { return nil } }
        default: return nil
        }
    }

    /// The value as text when it is a string, else nil.
    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }
}
