import Testing
@testable import WebSocketEngine

/// Reading a handshake's credential from each source a service may allow, and what is left for the service.
@Suite struct HandshakeCredentialsTests {
    static let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"

    static func read(headers: [(String, String)] = [], query: String? = nil, offering: [String] = [],
                     sources: CredentialSources = .default) -> Result<HandshakeCredentials, CredentialError> {
        HandshakeCredentials.read(headers: HTTPFields(headers), query: query, offeredSubprotocols: offering, sources: sources)
    }

    @Test func aBearerHeaderIsRead() throws {
        let read = try Self.read(headers: [("authorization", "bearer   \(Self.jwt) ")]).get()
        #expect(read.token == PresentedToken(token: Self.jwt, source: .authorizationHeader))
    }

    @Test func anotherAuthorizationSchemeIsNoBearerToken() throws {
        #expect(try Self.read(headers: [("Authorization", "Basic YWxpY2U6c2VjcmV0")]).get().token == nil)
    }

    @Test func twoAuthorizationFieldsOrAnEmptyBearerAreMalformed() {
        for headers in [[("Authorization", "Bearer a"), ("Authorization", "Bearer b")], [("Authorization", "Bearer")],
                        [("Authorization", "Bearer a b")]] {
            guard case .failure(.malformed) = Self.read(headers: headers) else {
                Issue.record("\(headers) was read as a credential")
                continue
            }
        }
    }

    @Test func theQueryParameterIsReadDecodedAndRemovedFromTheQuery() throws {
        let read = try Self.read(query: "room=1&access_token=ab%2Bc%3D&x=2").get()
        #expect(read.token == PresentedToken(token: "ab+c=", source: .query))
        #expect(read.query == "room=1&x=2")
        let only = try Self.read(query: "access_token=\(Self.jwt)").get()
        #expect(only.token?.token == Self.jwt && only.query == nil)
    }

    @Test func aRepeatedOrEmptyQueryParameterOrABrokenEscapeIsMalformed() {
        for query in ["access_token=a&access_token=b", "access_token=", "access_token", "access_token=%zz"] {
            guard case .failure(.malformed) = Self.read(query: query) else {
                Issue.record("\(query) was read")
                continue
            }
        }
    }

    @Test func theCookieIsReadAmongOthersAndUnquoted() throws {
        let read = try Self.read(headers: [("Cookie", "theme=dark; access_token=\"\(Self.jwt)\"; lang=en")]).get()
        #expect(read.token == PresentedToken(token: Self.jwt, source: .cookie))
        // A name that merely ends like it is another cookie.
        #expect(try Self.read(headers: [("Cookie", "my_access_token=x")]).get().token == nil)
    }

    @Test func aThousandCookiesAreReadInOnePass() throws {
        let many = (0..<1000).map { "c\($0)=v" }.joined(separator: "; ") + "; access_token=tok"
        #expect(try Self.read(headers: [("Cookie", many)]).get().token?.token == "tok")
    }

    @Test func theKubernetesSubprotocolEntryIsDecodedAndNeverLeftInTheOffer() throws {
        let entry = CredentialSources.subprotocolPrefix + Base64.encodeURLSafe(Self.jwt.utf8)
        let read = try Self.read(offering: ["msrp", entry, "chat"]).get()
        #expect(read.token == PresentedToken(token: Self.jwt, source: .subprotocol))
        #expect(read.offeredSubprotocols == ["msrp", "chat"])
    }

    @Test func brokenBase64InTheSubprotocolEntryIsMalformed() {
        for bad in ["a", "!!!!", "", "YQ=="] {
            guard case .failure(.malformed) = Self.read(offering: [CredentialSources.subprotocolPrefix + bad]) else {
                Issue.record("\(bad) was read")
                continue
            }
        }
    }

    @Test func twoExplicitSourcesAreAmbiguousButACookieGivesWay() throws {
        guard case .failure(.ambiguous(let sources)) = Self.read(headers: [("Authorization", "Bearer a")], query: "access_token=b") else {
            Issue.record("header + query was accepted")
            return
        }
        #expect(sources == [.authorizationHeader, .query])
        let read = try Self.read(headers: [("Cookie", "access_token=stale")], query: "access_token=fresh").get()
        #expect(read.token == PresentedToken(token: "fresh", source: .query))
    }

    @Test func aSourceTheServiceDoesNotAllowIsNotRead() throws {
        let sources = CredentialSources(authorizationHeader: false, queryParameter: "t", cookie: nil, subprotocol: false)
        let read = try Self.read(headers: [("Authorization", "Bearer a"), ("Cookie", "access_token=c")],
                                 query: "access_token=q&t=mine", offering: [CredentialSources.subprotocolPrefix + "YWJj"],
                                 sources: sources).get()
        #expect(read.token == PresentedToken(token: "mine", source: .query))
        #expect(read.query == "access_token=q" && read.offeredSubprotocols.count == 1)
    }

    @Test func aTokenOverTheLimitIsRefusedBeforeAnyMethodSeesIt() {
        let long = String(repeating: "a", count: HandshakeCredentials.maxTokenLength + 1)
        guard case .failure(.tooLong(.authorizationHeader, let length)) = Self.read(headers: [("Authorization", "Bearer \(long)")]) else {
            Issue.record("a 8 KiB + 1 token was read")
            return
        }
        #expect(length == long.utf8.count)
    }

    @Test func base64urlRoundTripsAndRefusesTheStandardAlphabet() {
        let bytes: [UInt8] = [0xfb, 0xff, 0xbf, 0x00, 0x01]
        let encoded = Base64.encodeURLSafe(bytes)
        #expect(encoded == "-_-_AAE")
        #expect(Base64.decodeURLSafe(encoded) == bytes)
        #expect(Base64.decodeURLSafe("+/+/AAE") == nil)
    }
}
