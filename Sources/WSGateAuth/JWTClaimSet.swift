#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import JWTKit
import WebSocketAPI

/// A JWT's payload as the gateway reads it: the registered claims it checks, typed by jwt-kit (which knows
/// their JSON forms: `aud` as a string or a list, times as seconds since 1970), and every claim as written, for
/// the identity a service sees and the claims a requirement names.
struct JWTClaimSet: Decodable, Sendable {
    var exp: ExpirationClaim?
    var nbf: NotBeforeClaim?
    var iss: IssuerClaim?
    var aud: AudienceClaim?
    var sub: SubjectClaim?
    var all: [String: ClaimValue]

    private enum CodingKeys: String, CodingKey { case exp, nbf, iss, aud, sub }

    init(from decoder: any Decoder) throws {
        let registered = try decoder.container(keyedBy: CodingKeys.self)
        exp = try registered.decodeIfPresent(ExpirationClaim.self, forKey: .exp)
        nbf = try registered.decodeIfPresent(NotBeforeClaim.self, forKey: .nbf)
        iss = try registered.decodeIfPresent(IssuerClaim.self, forKey: .iss)
        aud = try registered.decodeIfPresent(AudienceClaim.self, forKey: .aud)
        sub = try registered.decodeIfPresent(SubjectClaim.self, forKey: .sub)
        all = try decoder.singleValueContainer().decode([String: ClaimValue].self)
    }
}
