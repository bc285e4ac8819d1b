import NIOCore
import NIOSSL

/// TLS for a listener (`wss://`): the certificate chain and key it presents, loaded once at start.
public struct ServerTLS: Sendable {
    public let context: NIOSSLContext
    /// Also serve plain `ws://` on the same port (the first byte tells a TLS ClientHello from HTTP).
    /// Off by default: a plain request on a TLS port gets `400` and is closed.
    public var allowPlaintext: Bool

    public init(context: NIOSSLContext, allowPlaintext: Bool = false) {
        self.context = context
        self.allowPlaintext = allowPlaintext
    }

    /// Whether clients are asked for a certificate (`clientCAFile` given): then a certificate a client presents
    /// must chain to one of those CAs and be valid now, or the TLS handshake fails; a client may present none,
    /// and a service whose `auth` has `mtls` then sees no certificate.
    public private(set) var requestsClientCertificates = false

    /// Loads a PEM certificate chain (leaf first) and its PEM private key; with `clientCAFile` (PEM CA
    /// certificates), also asks clients for a certificate and verifies one presented against those CAs.
    public init(certificateChainFile: String, privateKeyFile: String, allowPlaintext: Bool = false,
                clientCAFile: String? = nil) throws {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateChainFile)
        } catch {
            throw TLSSetupError("cannot read the certificate chain \(certificateChainFile): \(error)")
        }
        guard !chain.isEmpty else { throw TLSSetupError("no PEM certificate in \(certificateChainFile)") }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: privateKeyFile, format: .pem)
        } catch {
            throw TLSSetupError("cannot read the private key \(privateKeyFile): \(error)")
        }
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // WebSocket is HTTP/1.1; announcing it keeps ALPN-aware clients from trying h2.
        configuration.applicationProtocols = ["http/1.1"]
        if let clientCAFile {
            let roots: [NIOSSLCertificate]
            do { roots = try NIOSSLCertificate.fromPEMFile(clientCAFile) } catch {
                throw TLSSetupError("cannot read the client CA file \(clientCAFile): \(error)")
            }
            guard !roots.isEmpty else { throw TLSSetupError("no PEM certificate in the client CA file \(clientCAFile)") }
            configuration.trustRoots = .certificates(roots)
            // Asked for, checked when given, not required: services without `mtls` stay reachable on the port.
            configuration.certificateVerification = .optionalVerification
            requestsClientCertificates = true
        }
        do {
            context = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSSetupError("the certificate and key do not make a TLS context (do they match?): \(error)")
        }
        self.allowPlaintext = allowPlaintext
    }
}

/// A TLS setting that cannot be used, said in words a person can act on.
public struct TLSSetupError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
