/// The heads the relay writes itself — responses and failure REPORTs — and what a request's `Failure-Report`
/// (RFC 4975 §7.1.1) asks of them.
extension MSRPRelay {
    /// Whether the sender wants a 200 (RFC 4975 §7.1.1: `Failure-Report: no` → no response at all, `partial` →
    /// errors only).
    package static func wantsSuccessResponse(_ head: MSRPHead) -> Bool {
        let report = head["Failure-Report"]?.lowercased() ?? "yes"
        return report == "yes"
    }

    /// Whether the sender wants to hear of a failure (`yes` and `partial`, RFC 4975 §7.1.1).
    package static func wantsFailureReport(_ head: MSRPHead) -> Bool {
        (head["Failure-Report"]?.lowercased() ?? "yes") != "no"
    }

    /// A response to `request` (hop by hop: To-Path is the request's From-Path, whose first URI is the previous
    /// hop; From-Path the URI the request named us by). None for REPORTs, or when Failure-Report says no.
    func respond(_ request: MSRPHead, on connection: ConnectionID, _ code: Int, _ comment: String, method: String,
                 extra: [MSRPHead.Field] = []) -> [Action] {
        if method == "REPORT" { return [] }
        if code != 200, method != "AUTH", !Self.wantsFailureReport(request) { return [] }
        return [.respond(connection, Self.response(to: request, code, comment, extra: extra))]
    }

    public static func response(to request: MSRPHead, _ code: Int, _ comment: String, extra: [MSRPHead.Field] = []) -> MSRPHead {
        let previous = firstURI(of: request["From-Path"])
        let me = firstURI(of: request["To-Path"])
        return MSRPHead(transactionID: request.transactionID, startLine: .response(code: code, comment: comment),
                        fields: [.init("To-Path", previous), .init("From-Path", me)] + extra)
    }

    /// The first URI of a path header, as written.
    static func firstURI(of path: String?) -> String {
        guard let path else { return "" }
        let utf8 = path.utf8
        let start = utf8.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? utf8.endIndex
        let end = utf8[start...].firstIndex { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") } ?? utf8.endIndex
        return String(path[start..<end])
    }

    /// A path header without its first URI (and the spaces after it), as written.
    static func afterFirstURI(of path: String) -> String {
        let utf8 = path.utf8
        let start = utf8.firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? utf8.endIndex
        let end = utf8[start...].firstIndex { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") } ?? utf8.endIndex
        let next = utf8[end...].firstIndex { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\t") } ?? utf8.endIndex
        return String(path[next...])
    }

    /// The REPORT a relay sends back toward the source when a forwarded request failed downstream or timed out
    /// (RFC 4976 §6.4; `Status: 000 <code>`), or nil when the request's Failure-Report does not want one.
    static func failureReport(for original: MSRPHead, code: Int, comment: String,
                              generator: inout some RandomNumberGenerator) -> MSRPHead? {
        guard original.method == "SEND", wantsFailureReport(original) else { return nil }
        let me = firstURI(of: original["To-Path"])
        var fields: [MSRPHead.Field] = [.init("To-Path", original["From-Path"] ?? ""), .init("From-Path", me)]
        if let id = original["Message-ID"] { fields.append(.init("Message-ID", id)) }
        if let range = original["Byte-Range"] { fields.append(.init("Byte-Range", range)) }
        fields.append(.init("Status", "000 \(code) \(comment)"))
        return MSRPHead(transactionID: MSRPHead.makeTransactionID(using: &generator), startLine: .request(method: "REPORT"),
                        fields: fields)
    }

    /// Input on `connection` that is not MSRP: `400` for its transaction when its head was read (and it is no
    /// REPORT, which is never answered), then the connection is closed — after a framing error nothing that
    /// follows on it can be trusted.
    public func malformed(partialHead: MSRPHead?, on connection: ConnectionID, reason: String) -> [Action] {
        var actions: [Action] = []
        if let head = partialHead, let method = head.method, method != "REPORT" {
            actions.append(.respond(connection, Self.response(to: head, 400, "Bad Request")))
        }
        actions.append(.close(connection, reason: reason))
        return actions
    }
}
