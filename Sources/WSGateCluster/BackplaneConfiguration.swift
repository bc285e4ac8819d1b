import WebSocketEngine

/// Where the backplane's PostgreSQL is and how this node uses it (`cluster.backplane.postgres` in the file,
/// `--backplane postgres://…` on the command line).
public struct BackplaneConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var user: String
    public var password: String?
    public var database: String
    /// This node's name in the backplane: rows it wrote are not delivered back to it. Unique per node.
    public var nodeID: String
    /// How long published messages stay in the table, for nodes that were cut off to catch up; older rows are
    /// pruned, and a node that comes back later reports the gap.
    public var retentionSeconds: Double = 60
    /// Bytes a node holds while PostgreSQL does not take them (then the oldest are dropped and counted).
    public var maxBufferedBytes = 64 << 20
    /// Refuse to start (rather than run local-only and retry) when PostgreSQL cannot be reached at start.
    public var required = false

    public init(host: String, port: Int = 5432, user: String, password: String? = nil, database: String, nodeID: String) {
        self.host = host
        self.port = port
        self.user = user
        self.password = password
        self.database = database
        self.nodeID = nodeID
    }

    /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB` (also `postgresql://`); user and password percent-decoded.
    public init(url: String, nodeID: String) throws(URLError) {
        let lower = url.lowercased()
        guard let scheme = ["postgres://", "postgresql://"].first(where: { lower.hasPrefix($0) }) else {
            throw URLError("the backplane URL must start with postgres://")
        }
        let rest = url.dropFirst(scheme.count)
        guard let at = rest.lastIndex(of: "@") else { throw URLError("the backplane URL needs a user: postgres://USER@HOST:PORT/DB") }
        let credentials = rest[..<at]
        let location = rest[rest.index(after: at)...]
        guard let slash = location.firstIndex(of: "/") else { throw URLError("the backplane URL needs a database: …/DB") }
        let authority = location[..<slash]
        var database = location[location.index(after: slash)...]
        if let query = database.firstIndex(of: "?") { database = database[..<query] }
        guard !database.isEmpty else { throw URLError("the backplane URL needs a database: …/DB") }
        let (user, password): (Substring, Substring?) = credentials.firstIndex(of: ":").map {
            (credentials[..<$0], credentials[credentials.index(after: $0)...])
        } ?? (credentials, nil)
        guard let decodedUser = Self.percentDecoded(user), !decodedUser.isEmpty else {
            throw URLError("the backplane URL needs a user: postgres://USER@HOST:PORT/DB")
        }
        var host = authority
        var port = 5432
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let parsed = Int(authority[authority.index(after: colon)...]), (1...65535).contains(parsed) else {
                throw URLError("the backplane URL's port must be 1-65535")
            }
            port = parsed
            host = authority[..<colon]
        }
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        guard !host.isEmpty else { throw URLError("the backplane URL needs a host") }
        var decodedPassword: String?
        if let password {
            guard let decoded = Self.percentDecoded(password) else { throw URLError("bad %-escape in the password") }
            decodedPassword = decoded
        }
        self.init(host: String(host), port: port, user: decodedUser, password: decodedPassword,
                  database: Self.percentDecoded(database) ?? String(database), nodeID: nodeID)
    }

    public struct URLError: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// `%XX` decoded (the credential reader's decoder: one for the whole package).
    private static func percentDecoded(_ text: Substring) -> String? { HandshakeCredentials.percentDecoded(text) }

    /// The URL without its password, for logs and the console.
    public var displayURL: String { "postgres://\(user)@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)" }
}
