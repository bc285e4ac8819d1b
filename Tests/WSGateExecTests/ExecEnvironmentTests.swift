import NIOCore
import Testing
import WebSocketAPI
import WebSocketEngine
@testable import WSGateExec

/// The environment of a program behind an exec service: websocketd's variables, named and filled as websocketd
/// fills them (the interop test compares the two side by side on the same request).
@Suite struct ExecEnvironmentTests {
    func request(path: String = "/env/sub", query: String? = "a=1&b=2", secure: Bool = false) -> WebSocketRequest {
        var headers = HTTPFields()
        headers.add("Host", "gw.example:8080")
        headers.add("X-Custom-Thing", "v")
        headers.add("Accept-Language", "en")
        headers.add("Accept-Language", "de")
        var r = WebSocketRequest(path: path, query: query, headers: headers, wire: .rfc6455)
        r.remoteAddress = try? SocketAddress(ipAddress: "192.0.2.7", port: 41000)
        r.secure = secure
        return r
    }

    @Test func cgiVariablesAndHeaders() {
        let env = ExecEnvironment.variables(for: request(), mountPath: "/env", connectionNumber: 7, inheritedPath: "/usr/bin:/bin")
        #expect(env["REMOTE_ADDR"] == "192.0.2.7" && env["REMOTE_PORT"] == "41000" && env["REMOTE_HOST"] == "192.0.2.7")
        #expect(env["SERVER_NAME"] == "gw.example" && env["SERVER_PORT"] == "8080")
        #expect(env["SCRIPT_NAME"] == "/env" && env["PATH_INFO"] == "/sub" && env["PATH_TRANSLATED"] == "/sub")
        #expect(env["QUERY_STRING"] == "a=1&b=2" && env["REQUEST_URI"] == "/env/sub?a=1&b=2")
        #expect(env["REQUEST_METHOD"] == "GET" && env["GATEWAY_INTERFACE"] == "websocketd-CGI/0.1")
        #expect(env["HTTP_X_CUSTOM_THING"] == "v")
        #expect(env["HTTP_ACCEPT_LANGUAGE"] == "en, de")
        #expect(env["HTTP_HOST"] == nil)  // as websocketd: the Host header is SERVER_NAME/SERVER_PORT
        #expect(env["PATH"] == "/usr/bin:/bin" && env["UNIQUE_ID"] == "7" && env["HTTPS"] == nil)
        #expect(env["AUTH_TYPE"] == "" && env["REMOTE_USER"] == "")
    }

    @Test func identityTLSAndTheRoot() {
        var r = request(path: "/x", query: nil, secure: true)
        r.headers = HTTPFields()
        r.identity = WebSocketIdentity(method: "jwt", subject: "alice")
        let env = ExecEnvironment.variables(for: r, mountPath: "/", connectionNumber: 1, inheritedPath: nil)
        #expect(env["AUTH_TYPE"] == "jwt" && env["REMOTE_USER"] == "alice")
        #expect(env["HTTPS"] == "on" && env["SERVER_PORT"] == "443" && env["SERVER_NAME"] == "")
        #expect(env["SCRIPT_NAME"] == "/" && env["PATH_INFO"] == "/x" && env["QUERY_STRING"] == "")
        #expect(env["PATH"] == nil)
    }

    @Test func hostHeaders() {
        #expect(ExecEnvironment.split(host: "[::1]:9000", secure: false) == ("::1", "9000"))
        #expect(ExecEnvironment.split(host: "[::1]", secure: true) == ("::1", "443"))
        #expect(ExecEnvironment.split(host: "example.org", secure: false) == ("example.org", "80"))
    }

    @Test func outputLinesAndExitStatuses() {
        #expect(ExecOutput.message(for: Array("héllo".utf8)) == .text("héllo"))
        #expect(ExecOutput.message(for: Array("crlf\r".utf8)) == .text("crlf"))
        #expect(ExecOutput.message(for: [0xFF, 0x00]) == .binary(ByteBuffer(bytes: [0xFF, 0x00])))
        #expect(ExecHandler.closeCode(for: .exited(0)) == (.normalClosure, ""))
        #expect(ExecHandler.closeCode(for: .exited(3)) == (.internalServerError, "the program exited with status 3"))
        #expect(ExecHandler.closeCode(for: .signaled(9)) == (.internalServerError, "the program was killed by signal 9"))
    }
}
