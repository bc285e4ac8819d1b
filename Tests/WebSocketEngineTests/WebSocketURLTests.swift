import Testing
@testable import WebSocketEngine

/// Vectors for seed draft-hixie-thewebsocketprotocol-55 §3.1 (parse) and §3.2 (construct).
@Suite struct WebSocketURLTests {
    struct Vector: Sendable, CustomTestStringConvertible {
        let input: String
        let secure: Bool, host: String, port: Int, resource: String
        var testDescription: String { input }
    }

    static let valid: [Vector] = [
        Vector(input: "ws://example.com/", secure: false, host: "example.com", port: 80, resource: "/"),
        // Step 10: an empty path becomes "/".
        Vector(input: "ws://example.com", secure: false, host: "example.com", port: 80, resource: "/"),
        // Steps 4 and 6: scheme and host compared and returned in lower case.
        Vector(input: "WS://EXAMPLE.COM/Chat", secure: false, host: "example.com", port: 80, resource: "/Chat"),
        // Step 8: wss defaults to 443.
        Vector(input: "wss://example.com/chat", secure: true, host: "example.com", port: 443, resource: "/chat"),
        // Step 7: an explicit port.
        Vector(input: "wss://example.com:8443/chat", secure: true, host: "example.com", port: 8443, resource: "/chat"),
        Vector(input: "ws://example.com:80/", secure: false, host: "example.com", port: 80, resource: "/"),
        // Step 11: the query is part of the resource name.
        Vector(input: "ws://example.com/chat?room=1&x=y", secure: false, host: "example.com", port: 80, resource: "/chat?room=1&x=y"),
        Vector(input: "ws://example.com?q", secure: false, host: "example.com", port: 80, resource: "/?q"),
        Vector(input: "ws://127.0.0.1:9001/runCase?case=1&agent=x", secure: false, host: "127.0.0.1", port: 9001, resource: "/runCase?case=1&agent=x"),
        Vector(input: "ws://[::1]:8080/echo", secure: false, host: "::1", port: 8080, resource: "/echo"),
        Vector(input: "  ws://example.com/trim  ", secure: false, host: "example.com", port: 80, resource: "/trim"),
        // Step 3: resolving with UTF-8 percent-encodes what is not printable ASCII.
        Vector(input: "ws://example.com/a b/é", secure: false, host: "example.com", port: 80, resource: "/a%20b/%C3%A9"),
        Vector(input: "ws://example.com:/x", secure: false, host: "example.com", port: 80, resource: "/x"),
    ]

    @Test(arguments: valid)
    func parses(_ v: Vector) throws {
        let url = try WebSocketURL(parsing: v.input)
        #expect(url.secure == v.secure)
        #expect(url.host == v.host)
        #expect(url.port == v.port)
        #expect(url.resourceName == v.resource)
        // Constructing and parsing again gives the same components.
        #expect(try WebSocketURL(parsing: url.description) == url)
    }

    @Test(arguments: [
        ("/relative", WebSocketURL.ParseError.notAbsolute),
        ("example.com/chat", .notAbsolute),
        ("", .notAbsolute),
        ("http://example.com/", .unsupportedScheme("http")),
        ("ftp://example.com/", .unsupportedScheme("ftp")),
        ("ws:example.com", .notAbsolute),
        ("ws:///path", .missingHost),
        ("ws://:80/", .missingHost),
        ("ws://example.com:99999/", .invalidPort),
        ("ws://example.com:8a/", .invalidPort),
        ("ws://example.com:-1/", .invalidPort),
        ("ws://example.com/#frag", .fragmentNotAllowed),
        ("ws://exa mple.com/", .invalidHost),
        ("ws://[::1/", .invalidHost),
        ("ws://a:b:c/", .invalidHost),
        ("ws://h/#\u{301}", .fragmentNotAllowed),
        ("ws://example.com/a\u{7}b", .invalidCharacter),
    ])
    func refuses(_ input: String, _ error: WebSocketURL.ParseError) {
        #expect(throws: error) { try WebSocketURL(parsing: input) }
    }

    @Test func constructsPerSection3_2() {
        #expect(WebSocketURL(secure: false, host: "example.com", port: 80, resourceName: "/x").description == "ws://example.com/x")
        #expect(WebSocketURL(secure: false, host: "example.com", port: 81, resourceName: "/x").description == "ws://example.com:81/x")
        #expect(WebSocketURL(secure: true, host: "example.com", port: 443, resourceName: "/").description == "wss://example.com/")
        #expect(WebSocketURL(secure: true, host: "example.com", port: 80, resourceName: "/").description == "wss://example.com:80/")
        #expect(WebSocketURL(secure: false, host: "::1", port: 8080).description == "ws://[::1]:8080/")
        #expect(WebSocketURL(secure: false, host: "Example.COM", port: 8080).hostHeader == "example.com:8080")
    }
}
