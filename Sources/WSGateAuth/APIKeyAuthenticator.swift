import Crypto
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// The `api_key` method: a bearer token that is one of the service's keys. The file keeps only the keys'
/// SHA-256 hashes (a leaked file grants nothing), one per line as 64 hex digits, optionally followed by a name
/// the identity carries (`<hex> alice`); `#` starts a comment. Make a line with
/// `printf %s "$KEY" | sha256sum`.
public struct APIKeyAuthenticator: HandshakeAuthenticator {
    public var method: String { "api_key" }
    /// Hash → the key's name.
    let keys: [[UInt8]: String]

    /// A line of the key file that is not `<64 hex digits> [name]`.
    public struct FileError: Error, CustomStringConvertible {
        public var line: Int
        public var description: String { "line \(line): not a SHA-256 hash in hex (64 digits), optionally a name after it" }
    }

    public init(hashFile text: String) throws {
        var keys: [[UInt8]: String] = [:]
        for (number, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.prefix { $0 != "#" }.trimmingOWS()
            guard !line.isEmpty else { continue }
            let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard let hash = Self.hexBytes(fields[0]), hash.count == 32 else { throw FileError(line: number + 1) }
            keys[hash] = fields.count > 1 ? fields[1...].joined(separator: " ") : "key-" + fields[0].prefix(8).lowercased()
        }
        self.keys = keys
    }

    /// The number of keys the file holds.
    public var count: Int { keys.count }

    public func authenticate(_ presented: PresentedCredentials, now: Double) -> AuthenticationResult {
        guard let token = presented.token?.token else { return .notPresented }
        // Looked up by hash: the comparison never touches the key itself, so its timing tells nothing of it.
        guard let name = keys[Array(SHA256.hash(data: Array(token.utf8)))] else { return .refused("unknown API key") }
        return .authenticated(WebSocketIdentity(method: method, subject: name))
    }

    static func hexBytes<S: StringProtocol>(_ text: S) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0 else { return nil }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let high = HandshakeCredentials.hexValue(digits[i]), let low = HandshakeCredentials.hexValue(digits[i + 1]) else {
                return nil
            }
            out.append(high << 4 | low)
        }
        return out
    }
}
