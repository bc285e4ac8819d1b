import Testing
@testable import MSRPEngine

/// RFC 4975 §9 URI syntax and §6.1 comparison.
@Suite struct MSRPURITests {
    @Test func parsesAndPrints() throws {
        let uri = try MSRPURI(parsing: "msrps://alice@a.example.com:443/jui787s2f;ws;foo=bar")
        #expect(uri.secure && uri.userinfo == "alice" && uri.host == "a.example.com" && uri.port == 443)
        #expect(uri.sessionID == "jui787s2f" && uri.transport == "ws" && uri.parameters == ["foo=bar"])
        #expect(uri.description == "msrps://alice@a.example.com:443/jui787s2f;ws;foo=bar")
        let v6 = try MSRPURI(parsing: "msrp://[2001:db8::1]:2855/s;tcp")
        #expect(v6.host == "2001:db8::1" && v6.port == 2855 && v6.description == "msrp://[2001:db8::1]:2855/s;tcp")
        let bare = try MSRPURI(parsing: "msrp://relay.example;tcp")
        #expect(bare.port == nil && bare.sessionID == nil)
    }

    @Test func refusesMalformed() {
        for bad in ["http://a;tcp", "msrp://a.example:2855/s", "msrp://:1/s;tcp", "msrp://a:99999/s;tcp", "msrp://a/s s;tcp",
                    "msrp://a/;tcp", "msrp://a/s;", "msrp://[::1/s;tcp"] {
            #expect(throws: MSRPURI.ParseError.self, "\(bad)") { try MSRPURI(parsing: bad) }
        }
    }

    @Test func comparisonFollowsSection61() throws {
        func same(_ a: String, _ b: String) throws -> Bool { try MSRPURI(parsing: a).matches(MSRPURI(parsing: b)) }
        // Scheme, host and transport without regard to case; userinfo and parameters ignored.
        #expect(try same("msrp://alice@atlanta.example.com:7654/jshA7weztas;tcp", "MSRP://ATLANTA.example.COM:7654/jshA7weztas;TCP"))
        #expect(try same("msrp://a.example:1/s;tcp;x=1", "msrp://bob@a.example:1/s;tcp"))
        // Session ids exactly; explicit ports must match, and a port is never equal to no port.
        #expect(try !same("msrp://a.example:1/jshA7weztas;tcp", "msrp://a.example:1/JSHA7WEZTAS;tcp"))
        #expect(try !same("msrp://a.example:2855/s;tcp", "msrp://a.example/s;tcp"))
        #expect(try !same("msrp://a.example:1/s;tcp", "msrp://a.example:2/s;tcp"))
        #expect(try !same("msrp://a.example:1/s;tcp", "msrps://a.example:1/s;tcp"))
        #expect(try !same("msrp://a.example:1/s;tcp", "msrp://a.example:1/s;ws"))
    }
}
