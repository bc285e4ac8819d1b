import WebSocketAPI
import WebSocketEngine

/// The environment a program behind an exec service starts with: websocketd's CGI-like variables (RFC 3875 names;
/// `GATEWAY_INTERFACE` says `websocketd-CGI/0.1`, so programs written for websocketd read it as theirs), the
/// request's headers as `HTTP_*`, and the identity access control established (`AUTH_TYPE`, `REMOTE_USER`).
/// `PATH` is passed on from the gateway's own environment, as websocketd does; nothing else of it is.
package enum ExecEnvironment {
    package static func variables(for request: WebSocketRequest, mountPath: String, connectionNumber: UInt64,
                                  inheritedPath: String?) -> [String: String] {
        let host = request.headers["Host"] ?? ""
        let (serverName, serverPort) = split(host: host, secure: request.secure)
        let remoteAddress = request.remoteAddress?.ipAddress ?? ""
        let remotePort = request.remoteAddress?.port.map(String.init) ?? ""
        let pathInfo = mountPath == "/" ? request.path : String(request.path.dropFirst(mountPath.count))
        var uri = request.path
        if let query = request.query { uri += "?" + query }
        var environment: [String: String] = [
            "SERVER_SOFTWARE": "wsgate",
            "REMOTE_ADDR": remoteAddress,
            "REMOTE_HOST": remoteAddress,
            "REMOTE_PORT": remotePort,
            "SERVER_NAME": serverName,
            "SERVER_PORT": serverPort,
            "SERVER_PROTOCOL": "HTTP/1.1",
            "GATEWAY_INTERFACE": "websocketd-CGI/0.1",
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": mountPath == "/" ? "/" : mountPath,
            "PATH_INFO": pathInfo,
            "PATH_TRANSLATED": pathInfo,
            "QUERY_STRING": request.query ?? "",
            "REQUEST_URI": uri,
            "AUTH_TYPE": request.identity?.method ?? "",
            "REMOTE_USER": request.identity?.subject ?? "",
            "REMOTE_IDENT": "",
            "CONTENT_LENGTH": "",
            "CONTENT_TYPE": "",
            "UNIQUE_ID": String(connectionNumber),
        ]
        if request.secure { environment["HTTPS"] = "on" }
        if let inheritedPath { environment["PATH"] = inheritedPath }
        for (name, value) in request.headers where !name.caseInsensitiveEquals("Host") {
            let key = "HTTP_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
            // A header sent twice is one variable, its values joined as HTTP joins them.
            environment[key] = environment[key].map { "\($0), \(value)" } ?? value
        }
        return environment
    }

    /// `host[:port]` of a Host header (an IPv6 literal in brackets), the port defaulting to the scheme's.
    static func split(host: String, secure: Bool) -> (String, String) {
        let defaultPort = secure ? "443" : "80"
        if host.hasPrefix("["), let close = host.firstIndex(of: "]") {
            let name = String(host[host.index(after: host.startIndex)..<close])
            let rest = host[host.index(after: close)...]
            return (name, rest.hasPrefix(":") ? String(rest.dropFirst()) : defaultPort)
        }
        if let colon = host.lastIndex(of: ":") {
            return (String(host[..<colon]), String(host[host.index(after: colon)...]))
        }
        return (host, defaultPort)
    }
}
