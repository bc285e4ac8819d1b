import NIOCore
import WebSocketEngine
import WebSocketTransport

/// `GET /`: the web console, one HTML file with its script inline (`Resources/console.html`, compiled into
/// the binary so an installed `wsgate` needs no files beside it). The page reads its live figures from the
/// `ConsoleLiveService` whose path is written into the page's `<meta name="wsgate-live">`.
public struct ConsolePage: HTTPResource {
    private let page: ByteBuffer

    public init(livePath: String) {
        let template = String(decoding: PackageResources.console_html, as: UTF8.self)
        page = ByteBuffer(string: template.replacingPlaceholder("{{LIVE_PATH}}", with: Self.htmlEscaped(livePath)))
    }

    public func respond(to request: HTTPRequestHead) -> HTTPResourceResponse {
        var response = HTTPResourceResponse.ok(contentType: "text/html; charset=utf-8", body: page)
        // The page holds no secrets, but it must not be framed by another site (clickjacking its buttons).
        response.headers.add("X-Frame-Options", "DENY")
        response.headers.add("Content-Security-Policy", "frame-ancestors 'none'")
        response.headers.add("Cache-Control", "no-cache")
        return response
    }

    /// A value safe inside a double-quoted HTML attribute.
    static func htmlEscaped(_ text: String) -> String {
        var out = ""
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }
}

extension String {
    fileprivate func replacingPlaceholder(_ placeholder: String, with value: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let range = rest.range(of: placeholder) {
            out += rest[..<range.lowerBound]
            out += value
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
