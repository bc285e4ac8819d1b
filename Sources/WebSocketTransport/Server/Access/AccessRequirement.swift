import WebSocketAPI

/// What an authenticated client must be to use a service (authorization, after authentication): any of the
/// listed subjects, and every listed claim holding every listed value. A client that fails it gets `403`.
public struct AccessRequirement: Sendable, Hashable {
    /// Subjects allowed; nil: any subject.
    public var subjects: Set<String>?
    /// Claim name → words the claim must contain (all of them): `scope: [vnc]` wants `"scope": "read vnc"` or
    /// `"scope": ["vnc"]`. A certificate's identity has `san` and `subject` claims.
    public var claims: [String: [String]]

    public init(subjects: Set<String>? = nil, claims: [String: [String]] = [:]) {
        self.subjects = subjects
        self.claims = claims
    }

    /// Anyone who authenticated.
    public static let anyone = AccessRequirement()

    /// Why `identity` may not use the service, or nil when it may. The reason names the claim, not its value.
    public func refusal(for identity: WebSocketIdentity) -> String? {
        if let subjects, !subjects.contains(identity.subject) {
            return "subject \(identity.subject) is not allowed here"
        }
        for (claim, wanted) in claims.sorted(by: { $0.key < $1.key }) {
            guard let words = identity.claims[claim]?.words else { return "the credential has no \(claim) claim" }
            if let missing = wanted.first(where: { !words.contains($0) }) {
                return "the \(claim) claim does not contain \(missing)"
            }
        }
        return nil
    }
}
