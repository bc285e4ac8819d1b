import Testing
import WebSocketEngine
@testable import WebSocketTransport

/// Proxy URLs and the environment rules (the tunnel itself is tested against tinyproxy in tests/interop).
@Suite struct ProxyTests {
    @Test func proxyURLs() throws {
        #expect(try HTTPProxy(url: "http://proxy.example:3128") == HTTPProxy(host: "proxy.example", port: 3128))
        #expect(try HTTPProxy(url: "http://proxy.example") == HTTPProxy(host: "proxy.example", port: 80))
        #expect(try HTTPProxy(url: "proxy.example:8888/") == HTTPProxy(host: "proxy.example", port: 8888))
        #expect(try HTTPProxy(url: "http://us%3Aer:p%40ss:w@[::1]:3128")
                == HTTPProxy(host: "::1", port: 3128, username: "us:er", password: "p@ss:w"))
        #expect(throws: WebSocketTransportError.self) { try HTTPProxy(url: "socks5://proxy:1080") }
        #expect(throws: WebSocketTransportError.self) { try HTTPProxy(url: "http://proxy:99999") }
    }

    @Test func connectRequestCarriesBasicCredentials() {
        let proxy = HTTPProxy(host: "p", port: 1, username: "Aladdin", password: "open sesame")
        #expect(proxy.connectRequest(toHost: "example.com", port: 443)
                == "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\nProxy-Authorization: Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==\r\n\r\n")
        #expect(HTTPProxy(host: "p").connectRequest(toHost: "::1", port: 80) == "CONNECT [::1]:80 HTTP/1.1\r\nHost: [::1]:80\r\n\r\n")
    }

    @Test func environmentPicksBySchemeAndHonoursNoProxy() throws {
        let ws = try WebSocketURL(parsing: "ws://api.example.com:8080/echo")
        let wss = try WebSocketURL(parsing: "wss://api.example.com/echo")
        let env = ["HTTP_PROXY": "http://plain:1", "https_proxy": "http://secure:2", "HTTPS_PROXY": "http://ignored:3"]
        #expect(try ProxyChoice.environment.resolve(for: ws, environment: env) == HTTPProxy(host: "plain", port: 1))
        #expect(try ProxyChoice.environment.resolve(for: wss, environment: env) == HTTPProxy(host: "secure", port: 2))
        #expect(try ProxyChoice.environment.resolve(for: ws, environment: [:]) == nil)
        #expect(try ProxyChoice.none.resolve(for: ws, environment: env) == nil)
        for noProxy in ["example.com", ".example.com", "other, api.example.com", "*", "api.example.com:8080"] {
            #expect(try ProxyChoice.environment.resolve(for: ws, environment: env.merging(["NO_PROXY": noProxy]) { $1 }) == nil, "\(noProxy)")
        }
        for noProxy in ["ample.com", "api.example.com:9090", "other"] {
            #expect(try ProxyChoice.environment.resolve(for: ws, environment: env.merging(["no_proxy": noProxy]) { $1 }) != nil, "\(noProxy)")
        }
    }
}
