/// A bounded parser for the head of an HTTP/1.1 request or response (start line + header fields).
///
/// wsgate parses handshakes itself rather than through a general HTTP stack because one listener must tell
/// apart, from the first bytes, RFC 6455 and hixie upgrades (whose key3 follows the head with no framing),
/// WSR create requests and raw RTMP, and must enforce its own size limits byte-exactly. The parser is
/// incremental: call `parse` as bytes accumulate; it remembers how far it scanned so a head trickled in
/// one byte at a time costs linear, not quadratic, time.
///
/// Only `Limits` is public (listeners and clients are configured with it); the parser itself is `package`, the
/// transport's and the fuzzers' tool, not an HTTP library for other packages to build on.
public struct HTTPHeadParser: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Largest head, start line and fields together, including the blank line.
        public var maxHeadSize: Int
        public var maxHeaderCount: Int
        public init(maxHeadSize: Int = 16 << 10, maxHeaderCount: Int = 100) {
            self.maxHeadSize = maxHeadSize
            self.maxHeaderCount = maxHeaderCount
        }
    }

    package enum ParseError: Error, Hashable, Sendable {
        /// The head exceeded `maxHeadSize` (431).
        case headTooLarge
        /// More than `maxHeaderCount` fields (431).
        case tooManyHeaders
        /// Not HTTP/1.x syntax (400), with what was wrong.
        case malformed(String)
    }

    package enum Result<Head: Sendable>: Sendable {
        case needMoreData
        /// A complete head; `length` bytes of the input belong to it, the rest follow it.
        case complete(Head, length: Int)
        case failed(ParseError)
    }

    package var limits: Limits
    /// Where the search for the end of the head resumes.
    private var scanned = 0

    package init(limits: Limits = Limits()) { self.limits = limits }

    package mutating func parseRequest(_ bytes: UnsafeRawBufferPointer) -> Result<HTTPRequestHead> {
        parse(bytes) { line in
            let parts = line.split(separator: " ", omittingEmptySubsequences: false)
            guard parts.count == 3 else { throw ParseError.malformed("request line is not METHOD SP TARGET SP VERSION") }
            guard !parts[0].isEmpty, parts[0].utf8.allSatisfy(isTokenByte) else { throw ParseError.malformed("invalid method") }
            guard !parts[1].isEmpty, parts[1].utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
                throw ParseError.malformed("invalid request target")
            }
            guard isHTTPVersion(parts[2]) else { throw ParseError.malformed("invalid HTTP version") }
            return HTTPRequestHead(method: String(parts[0]), target: String(parts[1]), version: String(parts[2]))
        } fields: { head, fields in head.headers = fields }
    }

    package mutating func parseResponse(_ bytes: UnsafeRawBufferPointer) -> Result<HTTPResponseHead> {
        parse(bytes) { line in
            let parts = line.split(separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count >= 2, isHTTPVersion(parts[0]) else { throw ParseError.malformed("invalid status line") }
            guard parts[1].utf8.count == 3, parts[1].utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
                  let status = Int(parts[1]) else { throw ParseError.malformed("invalid status code") }
            return HTTPResponseHead(version: String(parts[0]), status: status, reason: parts.count == 3 ? String(parts[2]) : "")
        } fields: { head, fields in head.headers = fields }
    }

    private mutating func parse<Head>(
        _ bytes: UnsafeRawBufferPointer,
        startLine: (Substring) throws -> Head,
        fields setFields: (inout Head, HTTPFields) -> Void
    ) -> Result<Head> {
        guard let end = findEndOfHead(bytes) else {
            if bytes.count > limits.maxHeadSize { return .failed(.headTooLarge) }
            return .needMoreData
        }
        if end > limits.maxHeadSize { return .failed(.headTooLarge) }
        // Latin-1 would be the strict reading of obs-text; UTF-8 with replacement is what peers mean in practice.
        // Lines are split on bytes: in a Swift String "\r\n" is one Character.
        var lines = UnsafeRawBufferPointer(rebasing: bytes[..<end])
            .split(separator: 0x0A, omittingEmptySubsequences: false)
            .map { line -> Substring in
                let content = line.last == 0x0D ? line.dropLast() : line[...]
                return Substring(String(decoding: content, as: UTF8.self))
            }
        // Drop the blank line(s) that ended the head.
        while let last = lines.last, last.isEmpty { lines.removeLast() }
        guard let first = lines.first else { return .failed(.malformed("empty head")) }
        do {
            var head = try startLine(first)
            var fields = HTTPFields()
            for line in lines.dropFirst() {
                if line.first == " " || line.first == "\t" { throw ParseError.malformed("obsolete line folding") }
                guard let colon = line.firstIndex(of: ":") else { throw ParseError.malformed("header line without a colon") }
                let name = line[..<colon]
                guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else { throw ParseError.malformed("invalid header name") }
                let value = line[line.index(after: colon)...].trimmingOWS()
                guard value.utf8.allSatisfy({ $0 >= 0x20 || $0 == 0x09 }), !value.utf8.contains(0x7F) else {
                    throw ParseError.malformed("control character in a header value")
                }
                fields.add(String(name), value)
                if fields.fields.count > limits.maxHeaderCount { throw ParseError.tooManyHeaders }
            }
            setFields(&head, fields)
            return .complete(head, length: end)
        } catch {
            return .failed(error as? ParseError ?? .malformed("\(error)"))
        }
    }

    /// The length of the head including its terminating blank line (CRLF CRLF, or LF LF from lax peers).
    private mutating func findEndOfHead(_ bytes: UnsafeRawBufferPointer) -> Int? {
        let count = min(bytes.count, limits.maxHeadSize + 4)
        var i = max(0, scanned - 3)
        while i < count {
            if bytes[i] == 0x0A {
                if i >= 1, bytes[i - 1] == 0x0A { return i + 1 }
                if i >= 2, bytes[i - 1] == 0x0D, bytes[i - 2] == 0x0A { return i + 1 }
            }
            i += 1
        }
        scanned = count
        return nil
    }
}

/// tchar of RFC 9110 §5.6.2.
@inlinable
func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
        return true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
         UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
         UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
        return true
    default:
        return false
    }
}

/// Whether `s` is a non-empty RFC 9110 token.
package func isHTTPToken<S: StringProtocol>(_ s: S) -> Bool { !s.isEmpty && s.utf8.allSatisfy(isTokenByte) }

private func isHTTPVersion(_ s: Substring) -> Bool {
    let u = Array(s.utf8)
    return u.count == 8 && s.hasPrefix("HTTP/1.") && (u[7] == UInt8(ascii: "0") || u[7] == UInt8(ascii: "1"))
}
