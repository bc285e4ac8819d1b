/// An Apache `htdigest` file: lines `user:realm:HA1` (what `htdigest -c FILE REALM USER` writes).
public struct HTDigestFile: Sendable, Equatable {
    /// HA1 by user and realm.
    public var entries: [String: String]

    public init(parsing text: String) throws(HTDigestFile.ParseError) {
        entries = [:]
        for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let trimmed = line.trimmingSpaces()
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[2].count == 32, parts[2].allSatisfy(\.isHexDigit) else {
                throw ParseError(line: number + 1)
            }
            entries["\(parts[0]):\(parts[1])"] = parts[2].lowercased()
        }
    }

    public struct ParseError: Error, Sendable, Hashable {
        public var line: Int
    }

    public func ha1(user: String, realm: String) -> String? {
        entries["\(user):\(realm)"]
    }
}
