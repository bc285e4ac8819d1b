import WebSocketAPI
import WebSocketEngine

/// One way a service's clients may prove who they are (`jwt`, `api_key`, `mtls`): a pure check of what a
/// handshake presented, no I/O — keys and files are loaded before the listener starts, so the handshake's one
/// decision stays synchronous on the connection's event loop.
public protocol HandshakeAuthenticator: Sendable {
    /// The method's name in the configuration, the identity, the log and the metrics.
    var method: String { get }

    /// Whether `presented` proves an identity. `now` is the handshake's time (seconds since 1970), passed in so
    /// that the check is a function of its inputs.
    func authenticate(_ presented: PresentedCredentials, now: Double) -> AuthenticationResult
}

/// What a handshake presented, for every method at once.
public struct PresentedCredentials: Sendable {
    /// The bearer token from one of the service's `CredentialSources`.
    public var token: PresentedToken?
    /// The certificate the client gave in the TLS handshake, verified by the listener against its CA.
    public var clientCertificate: ClientCertificate?

    public init(token: PresentedToken? = nil, clientCertificate: ClientCertificate? = nil) {
        self.token = token
        self.clientCertificate = clientCertificate
    }
}

/// The TLS client certificate the listener verified against its client CAs (`ServerTLS`), as DER: the `mtls`
/// method reads its subject and names (the transport does not parse X.509).
public struct ClientCertificate: Sendable, Hashable {
    public var der: [UInt8]

    public init(der: [UInt8]) {
        self.der = der
    }
}

/// One method's verdict on a handshake.
public enum AuthenticationResult: Sendable, Hashable {
    /// The credential proves this identity.
    case authenticated(WebSocketIdentity)
    /// Nothing this method reads was presented (no token, no client certificate).
    case notPresented
    /// A credential this method reads was presented and is not good: `why` goes into the `401`'s
    /// `error_description` and the log, so it must never quote the credential.
    case refused(String)
}
