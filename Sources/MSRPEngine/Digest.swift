import Crypto

/// HTTP Digest authentication (RFC 2617, MD5, `qop=auth`) as RFC 4976 §5 uses it for AUTH: the relay
/// challenges with `WWW-Authenticate`, the client answers with `Authorization`, and the relay checks the answer
/// against the HA1 it keeps for the user (the `htdigest` file's `user:realm:HA1`).
public enum Digest {
    /// `name=value` pairs of a `Digest` challenge or credentials header (RFC 2617 §1.2 `auth-param`s: a value is
    /// a token or a quoted string with `\` escapes). Names are lowercased. nil when the header is not `Digest …`
    /// or cannot be parsed.
    public static func parameters(_ header: String) -> [String: String]? {
        var rest = Substring(header).drop(while: { $0 == " " })
        guard rest.lowercased().hasPrefix("digest"), rest.dropFirst(6).first == " " else { return nil }
        rest = rest.dropFirst(7)
        var out: [String: String] = [:]
        while true {
            rest = rest.drop(while: { $0 == " " || $0 == "," || $0 == "\t" })
            if rest.isEmpty { return out }
            guard let eq = rest.firstIndex(of: "=") else { return nil }
            let name = rest[..<eq].trimmingSpaces().lowercased()
            guard !name.isEmpty, name.utf8.allSatisfy({ MSRPURI.isTokenCharacter($0) }) else { return nil }
            rest = rest[rest.index(after: eq)...].drop(while: { $0 == " " })
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                var closed = false
                while let c = rest.first {
                    rest = rest.dropFirst()
                    if c == "\\" {
                        guard let escaped = rest.first else { return nil }
                        value.append(escaped)
                        rest = rest.dropFirst()
                    } else if c == "\"" {
                        closed = true
                        break
                    } else {
                        value.append(c)
                    }
                }
                guard closed else { return nil }
            } else {
                let end = rest.firstIndex(where: { $0 == "," || $0 == " " }) ?? rest.endIndex
                value = String(rest[..<end])
                rest = rest[end...]
            }
            guard out[name] == nil else { return nil } // a repeated parameter is ambiguous
            out[name] = value
        }
    }

    package static func md5Hex(_ text: String) -> String {
        hex(Insecure.MD5.hash(data: Array(text.utf8)))
    }

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes { out += [digits[Int(b >> 4)], digits[Int(b & 0x0F)]] }
        return String(decoding: out, as: UTF8.self)
    }

    /// HA1 = MD5(user:realm:password), what an `htdigest` file stores.
    public static func ha1(user: String, realm: String, password: String) -> String {
        md5Hex("\(user):\(realm):\(password)")
    }

    /// The `response` for `qop=auth`: MD5(HA1:nonce:nc:cnonce:auth:MD5(method:uri)).
    public static func response(ha1: String, nonce: String, nc: String, cnonce: String, method: String, uri: String) -> String {
        md5Hex("\(ha1):\(nonce):\(nc):\(cnonce):auth:\(md5Hex("\(method):\(uri)"))")
    }

    /// A `WWW-Authenticate` value.
    public static func challenge(realm: String, nonce: String, stale: Bool = false) -> String {
        "Digest realm=\"\(realm)\", nonce=\"\(nonce)\", qop=\"auth\", algorithm=MD5" + (stale ? ", stale=true" : "")
    }

    /// An `Authorization` value a client sends in answer to a challenge.
    public static func credentials(user: String, password: String, challenge: [String: String], method: String, uri: String,
                                   cnonce: String, nc: Int = 1) -> String? {
        guard let realm = challenge["realm"], let nonce = challenge["nonce"] else { return nil }
        let count = String(nc, radix: 16)
        let ncText = String(repeating: "0", count: max(0, 8 - count.count)) + count
        let answer = response(ha1: ha1(user: user, realm: realm, password: password), nonce: nonce, nc: ncText, cnonce: cnonce,
                              method: method, uri: uri)
        return "Digest username=\"\(user)\", realm=\"\(realm)\", nonce=\"\(nonce)\", uri=\"\(uri)\", response=\"\(answer)\", "
            + "qop=auth, nc=\(ncText), cnonce=\"\(cnonce)\", algorithm=MD5"
    }

    /// What the relay concludes from an `Authorization` header.
    public enum Verdict: Sendable, Equatable {
        case valid(user: String)
        /// Right credentials for a nonce that expired: challenge again with `stale=true`.
        case stale
        case invalid(String)
    }

    /// Checks credentials against `ha1For(user)` (nil: unknown user) and the nonce issuer. `methods` are the
    /// digest methods accepted: RFC 4976 says `AUTH`; some relays (Kamailio) used `MSRP`.
    public static func verify(_ header: String, realm: String, methods: [String] = ["AUTH", "MSRP"], nonces: NonceIssuer,
                              now: UInt64, ha1For: (String) -> String?) -> Verdict {
        guard let p = parameters(header) else { return .invalid("not Digest credentials") }
        guard let user = p["username"], let nonce = p["nonce"], let uri = p["uri"], let answer = p["response"] else {
            return .invalid("incomplete credentials")
        }
        guard p["realm"] == realm else { return .invalid("wrong realm") }
        if let algorithm = p["algorithm"], algorithm.lowercased() != "md5" { return .invalid("unsupported algorithm \(algorithm)") }
        guard p["qop"] == "auth", let nc = p["nc"], let cnonce = p["cnonce"] else { return .invalid("qop=auth with nc and cnonce needed") }
        guard let ha1 = ha1For(user) else { return .invalid("unknown user") }
        let matches = methods.contains { response(ha1: ha1, nonce: nonce, nc: nc, cnonce: cnonce, method: $0, uri: uri) == answer.lowercased() }
        guard matches else { return .invalid("wrong password") }
        switch nonces.check(nonce, now: now) {
        case .fresh: return .valid(user: user)
        case .expired: return .stale
        case .forged: return .invalid("nonce not issued here")
        }
    }
}
