/// HTTP/1.1 header fields in arrival order, looked up case-insensitively (RFC 9110 §5.1).
public struct HTTPFields: Sendable, Hashable, Sequence {
    public private(set) var fields: [(name: String, value: String)] = []

    public init() {}
    public init(_ fields: [(String, String)]) { self.fields = fields.map { (name: $0.0, value: $0.1) } }

    public mutating func add(_ name: String, _ value: String) { fields.append((name: name, value: value)) }

    /// Every value of the field `name`.
    public func values(_ name: String) -> [String] {
        fields.lazy.filter { $0.name.caseInsensitiveEquals(name) }.map(\.value)
    }

    /// The first value of the field `name`.
    public subscript(_ name: String) -> String? {
        fields.first { $0.name.caseInsensitiveEquals(name) }?.value
    }

    /// How many times the field `name` occurs.
    public func count(_ name: String) -> Int { fields.lazy.filter { $0.name.caseInsensitiveEquals(name) }.count }

    /// The comma-separated elements of every occurrence of `name`, trimmed, empty elements dropped (§5.6.1).
    public func commaSeparated(_ name: String) -> [String] {
        values(name).flatMap { $0.split(separator: ",") }.map { $0.trimmingOWS() }.filter { !$0.isEmpty }
    }

    /// Whether any comma-separated element of `name` equals `token`, ignoring case (e.g. `Connection: keep-alive, Upgrade`).
    public func containsToken(_ name: String, _ token: String) -> Bool {
        commaSeparated(name).contains { $0.caseInsensitiveEquals(token) }
    }

    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPFields, rhs: HTTPFields) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
    public func hash(into hasher: inout Hasher) {
        for f in fields { hasher.combine(f.name); hasher.combine(f.value) }
    }
}

public struct HTTPRequestHead: Sendable, Hashable {
    public var method: String
    /// The request-target as sent, e.g. `/chat?room=1`.
    public var target: String
    /// e.g. `HTTP/1.1`.
    public var version: String
    public var headers: HTTPFields

    public init(method: String, target: String, version: String = "HTTP/1.1", headers: HTTPFields = HTTPFields()) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
    }

    /// The target's path without the query.
    public var path: String {
        if let q = target.firstIndex(of: "?") { return String(target[..<q]) }
        return target
    }

    /// The query after `?`, if any.
    public var query: String? {
        guard let q = target.firstIndex(of: "?") else { return nil }
        return String(target[target.index(after: q)...])
    }
}

public struct HTTPResponseHead: Sendable, Hashable {
    public var version: String
    public var status: Int
    public var reason: String
    public var headers: HTTPFields

    public init(version: String = "HTTP/1.1", status: Int, reason: String, headers: HTTPFields = HTTPFields()) {
        self.version = version
        self.status = status
        self.reason = reason
        self.headers = headers
    }
}

extension StringProtocol {
    @inlinable
    package func caseInsensitiveEquals<Other: StringProtocol>(_ other: Other) -> Bool {
        let a = self.utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { x, y in asciiLower(x) == asciiLower(y) }
    }

    /// Trims optional white space (SP / HTAB) at both ends.
    public func trimmingOWS() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}

@inlinable
func asciiLower(_ byte: UInt8) -> UInt8 {
    (byte >= 0x41 && byte <= 0x5A) ? byte | 0x20 : byte
}
