import SwiftASN1
import WebSocketAPI
import WebSocketTransport
import X509

/// The `mtls` method: the client certificate the listener verified against its client CAs (`tls.client_ca`;
/// swift-nio-ssl checks the chain and the validity period, and fails the TLS handshake otherwise). The identity
/// is read with swift-certificates: subject = the certificate's common name, or its whole distinguished name
/// when it has none; claims `subject` (the RFC 4514 name) and `san` (its DNS names, e-mail addresses, URIs and
/// IP addresses), which an `AccessRequirement` can name.
public struct ClientCertificateAuthenticator: HandshakeAuthenticator {
    public var method: String { "mtls" }

    public init() {}

    public func authenticate(_ presented: PresentedCredentials, now: Double) -> AuthenticationResult {
        guard let presentedCertificate = presented.clientCertificate else { return .notPresented }
        let certificate: Certificate
        do { certificate = try Certificate(derEncoded: presentedCertificate.der) } catch {
            return .refused("the client certificate cannot be read")
        }
        let names: [String]
        do { names = try certificate.extensions.subjectAlternativeNames.map { $0.compactMap(Self.text) } ?? [] } catch {
            return .refused("the client certificate's subject alternative names cannot be read")
        }
        let distinguished = certificate.subject.description
        let commonName = certificate.subject.lazy.flatMap { $0 }
            .first { $0.type == .RDNAttributeType.commonName }.map { String(describing: $0.value) }
        return .authenticated(WebSocketIdentity(method: method, subject: commonName ?? distinguished, claims: [
            "subject": .string(distinguished),
            "san": .array(names.map(ClaimValue.string)),
        ]))
    }

    /// A subject alternative name as text; nil for the kinds access control has no use for.
    static func text(_ name: GeneralName) -> String? {
        switch name {
        case .dnsName(let value), .rfc822Name(let value), .uniformResourceIdentifier(let value): return value
        case .ipAddress(let octets):
            let bytes = Array(octets.bytes)
            if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
            if bytes.count == 16 {
                return stride(from: 0, to: 16, by: 2).map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }
                    .joined(separator: ":")
            }
            return nil
        default: return nil
        }
    }
}
