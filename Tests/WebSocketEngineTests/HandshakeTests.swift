import NIOCore
import Testing
@testable import WebSocketEngine

@Suite struct HandshakeTests {
    static let sampleRequest = """
        GET /chat?x=1 HTTP/1.1\r
        Host: server.example.com\r
        Upgrade: websocket\r
        Connection: keep-alive, Upgrade\r
        Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r
        Origin: http://example.com\r
        Sec-WebSocket-Protocol: chat, superchat\r
        Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits, x-foo; a="1"\r
        Sec-WebSocket-Version: 13\r
        \r

        """

    private func parse(_ text: String) -> HTTPRequestHead? {
        var parser = HTTPHeadParser()
        let bytes = Array(text.utf8)
        guard case .complete(let head, let length) = bytes.withUnsafeBytes({ parser.parseRequest($0) }) else { return nil }
        #expect(length == bytes.count)
        return head
    }

    private func request(replacing header: String, with value: String?) -> HTTPRequestHead {
        var head = parse(Self.sampleRequest)!
        var fields = HTTPFields()
        for f in head.headers where f.name != header { fields.add(f.name, f.value) }
        if let value { fields.add(header, value) }
        head.headers = fields
        return head
    }

    @Test func validRequestExposesOriginSubprotocolsAndExtensions() throws {
        let head = try #require(parse(Self.sampleRequest))
        #expect(head.path == "/chat" && head.query == "x=1")
        let request = try ServerHandshake.validate(head).get()
        #expect(request.origin == "http://example.com")
        #expect(request.subprotocols == ["chat", "superchat"])
        #expect(request.extensions == [
            ExtensionOffer(name: "permessage-deflate", parameters: [.init("client_max_window_bits")]),
            ExtensionOffer(name: "x-foo", parameters: [.init("a", "1")]),
        ])
        let response = ServerHandshake.acceptResponse(for: request, subprotocol: "chat")
        #expect(response == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n")
    }

    @Test func otherVersionsGet426With13() {
        guard case .failure(let r) = ServerHandshake.validate(request(replacing: "Sec-WebSocket-Version", with: "8")) else {
            Issue.record("accepted version 8"); return
        }
        #expect(r.status == 426)
        #expect(r.headers["Sec-WebSocket-Version"] == "13")
        #expect(r.response.hasPrefix("HTTP/1.1 426 Upgrade Required\r\n"))
    }

    @Test func badRequests() {
        let cases: [(String, String?, Int)] = [
            ("Sec-WebSocket-Key", nil, 400),
            ("Sec-WebSocket-Key", "short", 400),
            ("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAAAAAAAA", 400),
            ("Host", nil, 400),
            ("Connection", "keep-alive", 400),
            ("Upgrade", nil, 426),
            ("Sec-WebSocket-Protocol", "a b", 400),
            ("Sec-WebSocket-Extensions", "permessage-deflate; =x", 400),
        ]
        for (header, value, status) in cases {
            guard case .failure(let r) = ServerHandshake.validate(request(replacing: header, with: value)) else {
                Issue.record("\(header)=\(value ?? "nil") accepted"); continue
            }
            #expect(r.status == status, "\(header)=\(value ?? "nil")")
        }
        var post = parse(Self.sampleRequest)!
        post.method = "POST"
        guard case .failure(let r) = ServerHandshake.validate(post) else { Issue.record("POST accepted"); return }
        #expect(r.status == 405)
    }

    @Test func clientRequestAndResponseValidation() throws {
        let url = try WebSocketURL(parsing: "ws://example.com:8080/chat?x")
        let client = ClientHandshake(url: url, key: "dGhlIHNhbXBsZSBub25jZQ==", subprotocols: ["chat"],
                                     origin: "http://example.com", headers: HTTPFields([("Cookie", "a=b")]))
        let sent = try #require(parse(client.request))
        #expect(sent.target == "/chat?x")
        #expect(sent.headers["Host"] == "example.com:8080")
        #expect(sent.headers["Cookie"] == "a=b")
        // The server side accepts what the client side sends.
        let accepted = try ServerHandshake.validate(sent).get()

        var parser = HTTPHeadParser()
        let responseText = ServerHandshake.acceptResponse(for: accepted, subprotocol: "chat")
        guard case .complete(let response, _) = Array(responseText.utf8).withUnsafeBytes({ parser.parseResponse($0) }) else {
            Issue.record("response did not parse"); return
        }
        #expect(try client.validate(response).get().subprotocol == "chat")

        var wrongAccept = response
        wrongAccept.headers = HTTPFields(response.headers.fields.map { ($0.name, $0.name == "Sec-WebSocket-Accept" ? "x" : $0.value) })
        #expect(throws: ClientHandshake.Failure.self) { try client.validate(wrongAccept).get() }

        var otherProtocol = response
        otherProtocol.headers = HTTPFields(response.headers.fields.map { ($0.name, $0.name == "Sec-WebSocket-Protocol" ? "superchat" : $0.value) })
        #expect(throws: ClientHandshake.Failure.unofferedSubprotocol("superchat")) { try client.validate(otherProtocol).get() }

        let refused = HTTPResponseHead(status: 403, reason: "Forbidden")
        #expect(throws: ClientHandshake.Failure.unexpectedStatus(403, "Forbidden")) { try client.validate(refused).get() }
    }
}

@Suite struct HTTPHeadParserTests {
    @Test func parsesIncrementallyOneByteAtATime() {
        let bytes = Array(HandshakeTests.sampleRequest.utf8) + [0x81, 0x80] // a frame follows the head
        var parser = HTTPHeadParser()
        for end in 1...bytes.count {
            let result = bytes[..<end].withUnsafeBytes { parser.parseRequest($0) }
            switch result {
            case .needMoreData:
                #expect(end < bytes.count - 2)
            case .complete(let head, let length):
                #expect(end == bytes.count - 2)
                #expect(length == bytes.count - 2)
                #expect(head.headers["sec-websocket-key"] == "dGhlIHNhbXBsZSBub25jZQ==")
                return
            case .failed(let e):
                Issue.record("failed: \(e)"); return
            }
        }
        Issue.record("never completed")
    }

    @Test func limitsAndMalformedInput() {
        func parse(_ text: String, limits: HTTPHeadParser.Limits = .init()) -> HTTPHeadParser.Result<HTTPRequestHead> {
            var parser = HTTPHeadParser(limits: limits)
            return Array(text.utf8).withUnsafeBytes { parser.parseRequest($0) }
        }
        let big = "GET / HTTP/1.1\r\nX: " + String(repeating: "a", count: 20000)
        guard case .failed(.headTooLarge) = parse(big) else { Issue.record("no size limit"); return }
        let many = "GET / HTTP/1.1\r\n" + (0..<101).map { "X\($0): y\r\n" }.joined() + "\r\n"
        guard case .failed(.tooManyHeaders) = parse(many) else { Issue.record("no count limit"); return }
        for bad in ["GARBAGE\r\n\r\n", "GET /\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "GET / HTTP/1.1\r\nNoColon\r\n\r\n",
                    "GET / HTTP/1.1\r\nX: a\r\n folded\r\n\r\n", "GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n"] {
            guard case .failed(.malformed) = parse(bad) else { Issue.record("accepted \(bad.debugDescription)"); continue }
        }
    }

    @Test func statusCodesAreThreeDigits() {
        // Found by FuzzHandshake: Int("-01") parsed.
        for line in ["HTTP/1.1 -01 X", "HTTP/1.1 +01 X", "HTTP/1.1 1o1 X", "HTTP/1.1 1010 X"] {
            var parser = HTTPHeadParser()
            guard case .failed(.malformed) = Array((line + "\r\n\r\n").utf8).withUnsafeBytes({ parser.parseResponse($0) }) else {
                Issue.record("accepted \(line)"); continue
            }
        }
    }

    @Test func tokensInCommaSeparatedHeaders() {
        let fields = HTTPFields([("Connection", "keep-alive"), ("connection", " Upgrade ,x")])
        #expect(fields.containsToken("Connection", "upgrade"))
        #expect(!fields.containsToken("Connection", "close"))
        #expect(fields.commaSeparated("CONNECTION") == ["keep-alive", "Upgrade", "x"])
    }
}
