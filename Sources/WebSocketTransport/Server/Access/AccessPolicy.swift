import WebSocketAPI
import WebSocketEngine

/// A service's access control: where credentials are read, the methods that may prove an identity (any one
/// that succeeds admits the client), and what the identity must be. Evaluated inside the one handshake
/// decision, between the origin policy and the service, so that every wire gets it from one place.
public struct AccessPolicy: Sendable {
    public var methods: [any HandshakeAuthenticator]
    public var sources: CredentialSources
    public var requirement: AccessRequirement
    /// The `realm` of the `WWW-Authenticate` challenge.
    public var realm: String

    public init(methods: [any HandshakeAuthenticator], sources: CredentialSources = .default,
                requirement: AccessRequirement = .anyone, realm: String = "wsgate") {
        self.methods = methods
        self.sources = sources
        self.requirement = requirement
        self.realm = realm
    }

    /// The verdict on one handshake.
    public enum Verdict: Sendable, Hashable {
        /// Admitted: the identity, and the query and subprotocol offer without the credential.
        case admitted(WebSocketIdentity, query: String?, offeredSubprotocols: [String])
        /// `400 invalid_request`: the credential could not be read.
        case badRequest(String)
        /// `401 invalid_token`: no credential, or none that proves an identity.
        case unauthenticated(String)
        /// `403 insufficient_scope`: authenticated as `subject`, which the requirement refuses.
        case forbidden(String, subject: String)
    }

    /// Reads the credential, tries every method, and checks the identity against the requirement.
    public func evaluate(headers: HTTPFields, query: String?, offeredSubprotocols: [String],
                         clientCertificate: ClientCertificate?, now: Double) -> Verdict {
        let credentials: HandshakeCredentials
        switch HandshakeCredentials.read(headers: headers, query: query, offeredSubprotocols: offeredSubprotocols,
                                         sources: sources) {
        case .success(let read): credentials = read
        case .failure(.tooLong(let source, let length)):
            return .unauthenticated(CredentialError.tooLong(source, length).description)
        case .failure(let error): return .badRequest(error.description)
        }
        let presented = PresentedCredentials(token: credentials.token, clientCertificate: clientCertificate)
        var refusals: [String] = []
        for method in methods {
            switch method.authenticate(presented, now: now) {
            case .authenticated(let identity):
                if let why = requirement.refusal(for: identity) { return .forbidden(why, subject: identity.subject) }
                return .admitted(identity, query: credentials.query, offeredSubprotocols: credentials.offeredSubprotocols)
            case .refused(let why):
                refusals.append(methods.count > 1 ? "\(method.method): \(why)" : why)
            case .notPresented:
                continue
            }
        }
        return .unauthenticated(refusals.isEmpty ? "no credential presented" : refusals.joined(separator: "; "))
    }

    /// The `WWW-Authenticate` challenge of a refusal (RFC 6750 §3): `error` is `invalid_request`,
    /// `invalid_token` or `insufficient_scope`. The description is the verdict's reason, which never quotes
    /// the credential; quotes and backslashes in it are replaced so that it stays one quoted-string.
    public func challenge(error: String, description: String) -> String {
        let safe = String(description.map { $0 == "\"" || $0 == "\\" || $0.isNewline ? "'" : $0 })
        return "Bearer realm=\"\(realm)\", error=\"\(error)\", error_description=\"\(safe)\""
    }
}
