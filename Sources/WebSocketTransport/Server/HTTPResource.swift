import NIOCore
import WebSocketEngine

/// Something a listener serves over plain HTTP on a path beside its WebSocket services: the Prometheus
/// `/metrics` text, the web console's page. Answered for `GET` and `HEAD` only, one response per connection
/// (`Connection: close`): these are operator endpoints, not a web server.
public protocol HTTPResource: Sendable {
    func respond(to request: HTTPRequestHead) -> HTTPResourceResponse
}

/// The response an `HTTPResource` gives.
public struct HTTPResourceResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: HTTPFields
    public var body: ByteBuffer

    public init(status: Int = 200, reason: String = "OK", headers: HTTPFields = HTTPFields(), body: ByteBuffer) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// `200 OK` with a body of `contentType`.
    public static func ok(contentType: String, body: ByteBuffer) -> Self {
        Self(headers: HTTPFields([("Content-Type", contentType)]), body: body)
    }

    /// Head and body as written on the wire; `includeBody` is false for `HEAD`.
    func serialized(includeBody: Bool) -> ByteBuffer {
        var fields = headers
        fields.add("Content-Length", String(body.readableBytes))
        fields.add("Connection", "close")
        var out = ByteBuffer(string: HTTPResponseHead(status: status, reason: reason, headers: fields).serialized())
        if includeBody {
            var body = body
            out.writeBuffer(&body)
        }
        return out
    }
}
