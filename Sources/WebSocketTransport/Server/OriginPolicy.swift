/// Which browser origins may open a WebSocket on a path (seed 001 §7, RFC 6455 §10.2): the server's defence
/// against another site's script using a visitor's browser (and cookies) to talk to it.
///
/// Requests without `Origin` come from non-browser clients, which can claim any origin anyway; they pass.
public enum OriginPolicy: Sendable, Hashable {
    /// Every origin.
    case any
    /// Only these serialized origins (`scheme://host[:port]`), compared case-insensitively. An entry may
    /// start its host with `*.` to admit every subdomain (`https://*.example.com`); `*` admits all.
    case only([String])

    public func allows(_ origin: String?) -> Bool {
        guard let origin else { return true }
        switch self {
        case .any:
            return true
        case .only(let allowed):
            let candidate = origin.lowercased()
            return allowed.contains { Self.matches(candidate, pattern: $0.lowercased()) }
        }
    }

    private static func matches(_ origin: String, pattern: String) -> Bool {
        if pattern == "*" || pattern == origin { return true }
        // "scheme://*.domain[:port]" matches "scheme://sub.domain[:port]" (at least one label more).
        guard let star = pattern.firstRange(of: "://*.") else { return false }
        let scheme = pattern[..<star.lowerBound]
        let suffix = pattern[star.upperBound...]
        guard origin.hasPrefix(scheme + "://") else { return false }
        let host = origin.dropFirst(scheme.count + 3)
        return host.hasSuffix("." + suffix) && host.count > suffix.count + 1
    }
}
