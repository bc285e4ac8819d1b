/// A refused opening handshake, as the HTTP response that says why.
public struct HandshakeRejection: Error, Sendable, Hashable, CustomStringConvertible {
    public var status: Int
    public var reasonPhrase: String
    /// What went wrong, for the response body and the log line.
    public var detail: String
    public var headers: HTTPFields

    public init(status: Int, reasonPhrase: String, detail: String, headers: HTTPFields = HTTPFields()) {
        self.status = status
        self.reasonPhrase = reasonPhrase
        self.detail = detail
        self.headers = headers
    }

    public static func badRequest(_ detail: String) -> Self { .init(status: 400, reasonPhrase: "Bad Request", detail: detail) }
    public static func forbidden(_ detail: String) -> Self { .init(status: 403, reasonPhrase: "Forbidden", detail: detail) }
    public static func notFound(_ path: String) -> Self { .init(status: 404, reasonPhrase: "Not Found", detail: "no service at \(path)") }
    public static func methodNotAllowed(_ method: String) -> Self {
        .init(status: 405, reasonPhrase: "Method Not Allowed", detail: "method \(method) cannot open a WebSocket",
              headers: HTTPFields([("Allow", "GET")]))
    }
    /// 426 for a request that is not a WebSocket upgrade, or asks for a version other than 13 (§4.4).
    public static func upgradeRequired(_ detail: String) -> Self {
        .init(status: 426, reasonPhrase: "Upgrade Required", detail: detail,
              headers: HTTPFields([("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13")]))
    }
    public static func headTooLarge(_ detail: String) -> Self {
        .init(status: 431, reasonPhrase: "Request Header Fields Too Large", detail: detail)
    }
    public static func serviceUnavailable(_ detail: String) -> Self {
        .init(status: 503, reasonPhrase: "Service Unavailable", detail: detail)
    }

    /// The rejection for a head the parser refused.
    package init(_ error: HTTPHeadParser.ParseError) {
        switch error {
        case .headTooLarge: self = .headTooLarge("request head too large")
        case .tooManyHeaders: self = .headTooLarge("too many header fields")
        case .malformed(let why): self = .badRequest("malformed HTTP request: \(why)")
        }
    }

    public var description: String { "\(status) \(reasonPhrase): \(detail)" }

    /// The complete response; the connection is closed after it.
    public var response: String {
        var fields = headers
        fields.add("Content-Type", "text/plain; charset=utf-8")
        fields.add("Connection", "close")
        return HTTPResponseHead(status: status, reason: reasonPhrase, headers: fields).serialized(body: detail + "\n")
    }
}

extension HTTPResponseHead {
    /// The response as text, with `Content-Length` set from `body`.
    public func serialized(body: String? = nil) -> String {
        var out = "\(version) \(status) \(reason)\r\n"
        for f in headers { out += "\(f.name): \(f.value)\r\n" }
        if let body {
            out += "Content-Length: \(body.utf8.count)\r\n\r\n" + body
        } else {
            out += "\r\n"
        }
        return out
    }
}
