import ArgumentParser
import WSGateAuth
import WebSocketAPI

#if canImport(Glibc)
import Glibc
#endif

/// `wsgate token`: mints an HS256 JWT for testing a service protected with `--jwt-secret-file` (or an
/// `auth.jwt.secret_file`). Signing is jwt-kit's; real deployments mint tokens in their own identity service.
struct Token: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mint an HS256 test JWT signed with a secret file (whitespace at its end trimmed), printed on stdout.")

    @Option(help: ArgumentHelp("The secret file, as given to serve --jwt-secret-file.", valueName: "FILE")) var secretFile: String
    @Option(help: "The token's subject (sub).") var sub: String
    @Option(help: ArgumentHelp("Seconds until it expires (exp).", valueName: "SECONDS")) var ttl: Double = 3600
    @Option(help: "Issuer (iss).") var iss: String?
    @Option(help: "Audience (aud).") var aud: String?
    @Option(help: "Space-separated scopes (scope), e.g. \"chat vnc\".") var scope: String?
    @Option(name: .customLong("claim"), help: ArgumentHelp("Another string claim, NAME=VALUE (repeatable).", valueName: "NAME=VALUE"))
    var claims: [String] = []

    func validate() throws {
        guard ttl > 0 else { throw ValidationError("--ttl must be more than 0 seconds") }
        for claim in claims where !claim.contains("=") { throw ValidationError("--claim wants NAME=VALUE: \(claim)") }
    }

    func run() async throws {
        guard let secret = JWTKeySource.secret(fromFile: secretFile), !secret.isEmpty else {
            throw ValidationError("cannot read the secret file \(secretFile) (or it is empty)")
        }
        var extra: [String: ClaimValue] = [:]
        for claim in claims {
            let parts = claim.split(separator: "=", maxSplits: 1).map(String.init)
            extra[parts[0]] = .string(parts.count > 1 ? parts[1] : "")
        }
        if let iss { extra["iss"] = .string(iss) }
        if let aud { extra["aud"] = .string(aud) }
        if let scope { extra["scope"] = .string(scope) }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let token = try await TokenMinter.hs256(secret: secret, subject: sub, ttl: ttl, now: Double(now.tv_sec), extra: extra)
        writeLine(token, to: 1)
    }
}
