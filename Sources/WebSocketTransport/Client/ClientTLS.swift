import NIOCore
import NIOSSL

/// How the client checks a `wss://` server: the system's trust store by default, or a CA file of one's own.
public struct ClientTLS: Sendable {
    /// PEM file of CA certificates to trust instead of the system's (a private CA, a test CA).
    public var caFile: String?
    /// Skip certificate and hostname verification. For tests against self-signed servers only.
    public var insecure: Bool
    /// A client certificate (PEM chain, leaf first) to present to a server that asks for one (`mtls`).
    public var certificateFile: String?
    /// The PEM private key of `certificateFile`.
    public var privateKeyFile: String?
    /// A context built once by `sharingOneContext()`: every connection made with this value uses it instead of
    /// building its own (a load generator opening thousands of `wss://` connections reads the files once).
    private var sharedContext: NIOSSLContext?

    public init(caFile: String? = nil, insecure: Bool = false, certificateFile: String? = nil, privateKeyFile: String? = nil) {
        self.caFile = caFile
        self.insecure = insecure
        self.certificateFile = certificateFile
        self.privateKeyFile = privateKeyFile
    }

    /// This value with its context built now and shared by every connection that uses it.
    public func sharingOneContext() throws -> ClientTLS {
        var shared = self
        shared.sharedContext = try makeContext()
        return shared
    }

    public func makeContext() throws -> NIOSSLContext {
        if let sharedContext { return sharedContext }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.applicationProtocols = ["http/1.1"]
        if let caFile {
            do {
                configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(caFile))
            } catch {
                throw TLSSetupError("cannot read the CA file \(caFile): \(error)")
            }
        }
        if insecure { configuration.certificateVerification = .none }
        if let certificateFile, let privateKeyFile {
            do {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: privateKeyFile, format: .pem))
            } catch {
                throw TLSSetupError("cannot read the client certificate \(certificateFile) or its key \(privateKeyFile): \(error)")
            }
        }
        return try NIOSSLContext(configuration: configuration)
    }

    /// The TLS handler for a connection to `host`: SNI carries the name, never an IP address (RFC 6066 §3);
    /// for an IP address NIOSSL checks the certificate against the address connected to.
    public func makeHandler(context: NIOSSLContext, host: String) throws -> NIOSSLClientHandler {
        let isIPAddress = (try? SocketAddress(ipAddress: host, port: 0)) != nil
        return try NIOSSLClientHandler(context: context, serverHostname: isIPAddress ? nil : host)
    }
}

extension WebSocketTransportError {
    /// Puts TLS failures in words: which server, and what was wrong with its certificate.
    static func describing(_ error: any Error, host: String, port: Int) -> any Error {
        switch error {
        case let ssl as NIOSSLError:
            let text = "\(ssl)"
            let hint = text.contains("CERTIFICATE_VERIFY_FAILED")
                ? "the server's certificate is not trusted (unknown or self-signed CA, or expired); pass the CA with --ca-file, or --insecure to skip checks: "
                : ""
            return WebSocketTransportError.tlsFailed("TLS with \(host):\(port) failed: \(hint)\(text)")
        case let extra as NIOSSLExtraError:
            return WebSocketTransportError.tlsFailed("TLS with \(host):\(port) failed: \(extra)")
        default:
            return error
        }
    }
}
