import Testing
@testable import MSRPEngine

/// RFC 2617 Digest as RFC 4976 AUTH uses it.
@Suite struct DigestTests {
    @Test func rfc2617Section35Example() {
        let ha1 = Digest.ha1(user: "Mufasa", realm: "testrealm@host.com", password: "Circle Of Life")
        #expect(Digest.response(ha1: ha1, nonce: "dcd98b7102dd2f0e8b11d0f600bfb0c093", nc: "00000001", cnonce: "0a4f113b",
                                method: "GET", uri: "/dir/index.html") == "6629fae49393a05397450978507c4ef1")
    }

    @Test func parametersWithQuotesAndEscapes() {
        let p = Digest.parameters(#"Digest username="al\"ice", realm="r, x", nonce=abc ,qop=auth,nc=00000001"#)
        #expect(p == ["username": "al\"ice", "realm": "r, x", "nonce": "abc", "qop": "auth", "nc": "00000001"])
        #expect(Digest.parameters("Basic abc") == nil)
        #expect(Digest.parameters(#"Digest realm="unterminated"#) == nil)
        #expect(Digest.parameters(#"Digest realm="a", realm="b""#) == nil)
    }

    @Test func challengeAnswerAndVerdicts() {
        let nonces = NonceIssuer(secret: Array("secret".utf8), lifetime: 60)
        let nonce = nonces.make(now: 1000)
        let challenge = Digest.parameters(Digest.challenge(realm: "relay.example", nonce: nonce))!
        #expect(challenge["qop"] == "auth" && challenge["algorithm"] == "MD5")
        let uri = "msrps://relay.example:2855;tcp"
        let store = ["alice": Digest.ha1(user: "alice", realm: "relay.example", password: "wonderland")]
        func verdict(_ password: String, method: String = "AUTH", now: UInt64 = 1010, realm: String = "relay.example") -> Digest.Verdict {
            let header = Digest.credentials(user: "alice", password: password, challenge: challenge, method: method, uri: uri, cnonce: "c1")!
            return Digest.verify(header, realm: realm, nonces: nonces, now: now) { store[$0] }
        }
        #expect(verdict("wonderland") == .valid(user: "alice"))
        #expect(verdict("wonderland", method: "MSRP") == .valid(user: "alice")) // Kamailio's digest method
        #expect(verdict("wonderland", method: "SEND") == .invalid("wrong password"))
        #expect(verdict("guess") == .invalid("wrong password"))
        #expect(verdict("wonderland", now: 1100) == .stale)
        #expect(verdict("wonderland", realm: "other") == .invalid("wrong realm"))
        #expect(nonces.check("1000.0000", now: 1000) == .forged)
        #expect(NonceIssuer(secret: Array("other".utf8)).check(nonce, now: 1000) == .forged)
    }

    @Test func htdigestFile() throws {
        let file = try HTDigestFile(parsing: "# users\nalice:relay.example:\(Digest.ha1(user: "alice", realm: "relay.example", password: "pw"))\n\n")
        #expect(file.ha1(user: "alice", realm: "relay.example") == Digest.md5Hex("alice:relay.example:pw"))
        #expect(file.ha1(user: "alice", realm: "other") == nil)
        #expect(throws: HTDigestFile.ParseError(line: 2)) { try HTDigestFile(parsing: "a:b:\(String(repeating: "0", count: 32))\nbroken\n") }
    }
}
