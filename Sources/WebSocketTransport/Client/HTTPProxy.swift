import NIOCore
import WebSocketEngine

/// An HTTP proxy the client tunnels through with `CONNECT` (seed 001 §4.1 step 2; RFC 9110 §9.3.6).
public struct HTTPProxy: Sendable, Hashable {
    public var host: String
    public var port: Int
    /// Basic proxy credentials (`Proxy-Authorization`), from the proxy URL's userinfo.
    public var username: String?
    public var password: String?

    public init(host: String, port: Int = 8080, username: String? = nil, password: String? = nil) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
    }

    /// Parses `http://[user:password@]host[:port]` (port 80 by default, as curl does; a bare `host:port`
    /// is taken as http). Userinfo is percent-decoded.
    public init(url: String) throws {
        var rest = Substring(url)
        if let scheme = rest.firstRange(of: "://") {
            let name = rest[..<scheme.lowerBound].lowercased()
            guard name == "http" else { throw WebSocketTransportError.unsupportedURL("proxy \(url): only http:// proxies are supported") }
            rest = rest[scheme.upperBound...]
        }
        if let slash = rest.firstIndex(of: "/") { rest = rest[..<slash] }
        if let at = rest.lastIndex(of: "@") {
            let userinfo = rest[..<at]
            rest = rest[rest.index(after: at)...]
            let parts = userinfo.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            username = Self.percentDecoded(parts[0])
            password = parts.count > 1 ? Self.percentDecoded(parts[1]) : ""
        }
        var portNumber = 80
        var hostPart = rest
        if hostPart.hasPrefix("["), let close = hostPart.firstIndex(of: "]") {
            let after = hostPart[hostPart.index(after: close)...]
            if after.hasPrefix(":") {
                guard let p = Int(after.dropFirst()), (1...65535).contains(p) else { throw WebSocketTransportError.unsupportedURL("proxy \(url): bad port") }
                portNumber = p
            }
            hostPart = hostPart[hostPart.index(after: hostPart.startIndex)..<close]
        } else if let colon = hostPart.lastIndex(of: ":") {
            guard let p = Int(hostPart[hostPart.index(after: colon)...]), (1...65535).contains(p) else {
                throw WebSocketTransportError.unsupportedURL("proxy \(url): bad port")
            }
            portNumber = p
            hostPart = hostPart[..<colon]
        }
        guard !hostPart.isEmpty else { throw WebSocketTransportError.unsupportedURL("proxy \(url): no host") }
        host = String(hostPart)
        port = portNumber
    }

    /// The `CONNECT` request for a tunnel to `host:port`.
    func connectRequest(toHost target: String, port targetPort: Int) -> String {
        let authority = target.contains(":") ? "[\(target)]:\(targetPort)" : "\(target):\(targetPort)"
        var request = "CONNECT \(authority) HTTP/1.1\r\nHost: \(authority)\r\n"
        if let username {
            request += "Proxy-Authorization: Basic \(Base64.encode(Array("\(username):\(password ?? "")".utf8)))\r\n"
        }
        return request + "\r\n"
    }

    private static func percentDecoded(_ s: Substring) -> String {
        var bytes: [UInt8] = []
        var i = s.utf8.startIndex
        let utf8 = s.utf8
        while i < utf8.endIndex {
            let b = utf8[i]
            if b == UInt8(ascii: "%"), let h1 = utf8.index(i, offsetBy: 1, limitedBy: utf8.endIndex), h1 < utf8.endIndex,
               let h2 = utf8.index(i, offsetBy: 2, limitedBy: utf8.endIndex), h2 < utf8.endIndex,
               let value = UInt8(String(decoding: [utf8[h1], utf8[h2]], as: UTF8.self), radix: 16) {
                bytes.append(value)
                i = utf8.index(after: h2)
            } else {
                bytes.append(b)
                i = utf8.index(after: i)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Which proxy a connection goes through.
public enum ProxyChoice: Sendable, Hashable {
    /// Connect directly.
    case none
    /// Always this proxy.
    case proxy(HTTPProxy)
    /// Like curl and other clients: `HTTPS_PROXY` for `wss://`, `HTTP_PROXY` for `ws://` (lower-case names
    /// first), unless the host matches `NO_PROXY`.
    case environment

    /// The proxy for `url`, given the process environment.
    public func resolve(for url: WebSocketURL, environment: [String: String]) throws -> HTTPProxy? {
        switch self {
        case .none: return nil
        case .proxy(let proxy): return proxy
        case .environment:
            let names = url.secure ? ["https_proxy", "HTTPS_PROXY"] : ["http_proxy", "HTTP_PROXY"]
            guard let value = names.lazy.compactMap({ environment[$0] }).first(where: { !$0.isEmpty }) else { return nil }
            let noProxy = environment["no_proxy"] ?? environment["NO_PROXY"] ?? ""
            if Self.bypasses(host: url.host, port: url.port, noProxy: noProxy) { return nil }
            return try HTTPProxy(url: value)
        }
    }

    /// `NO_PROXY` as curl reads it: comma-separated hosts or domain suffixes (a leading dot optional),
    /// optionally with `:port`; `*` bypasses every host. IP addresses match exactly.
    static func bypasses(host: String, port: Int, noProxy: String) -> Bool {
        let host = host.lowercased()
        for raw in noProxy.split(separator: ",") {
            var entry = String(raw).trimmingOWS().lowercased()
            if entry == "*" { return true }
            if entry.isEmpty { continue }
            if let colon = entry.lastIndex(of: ":"), !entry.hasSuffix("]"), entry.filter({ $0 == ":" }).count == 1 {
                guard Int(entry[entry.index(after: colon)...]) == port else { continue }
                entry = String(entry[..<colon])
            }
            if entry.hasPrefix("[") && entry.hasSuffix("]") { entry = String(entry.dropFirst().dropLast()) }
            if entry.hasPrefix(".") { entry.removeFirst() }
            if host == entry || host.hasSuffix("." + entry) { return true }
        }
        return false
    }
}
