import NIOCore

/// A head on the wire (RFC 4975 §9): the start line, the header lines, the end-line.
extension MSRPHead {
    /// The start line and header lines, each ending in CRLF.
    public func write(into out: inout ByteBuffer) {
        out.writeString("MSRP \(transactionID) ")
        switch startLine {
        case .request(let method):
            out.writeString(method)
        case .response(let code, let comment):
            out.writeString(String(code))
            if let comment { out.writeString(" " + comment) }
        }
        out.writeString("\r\n")
        for f in fields { out.writeString("\(f.name): \(f.value)\r\n") }
    }

    /// A complete chunk: head, the body (when there is one; it then needs a `Content-Type` among the fields),
    /// and the end-line.
    public func write(body: ByteBuffer?, continuation: MSRPContinuation, into out: inout ByteBuffer) {
        write(into: &out)
        if var body {
            out.writeString("\r\n")
            out.writeBuffer(&body)
            out.writeString("\r\n")
        }
        writeEndLine(continuation, into: &out)
    }

    public func writeEndLine(_ continuation: MSRPContinuation, into out: inout ByteBuffer) {
        Self.writeEndLine(transactionID, continuation, into: &out)
    }

    /// `-------<tid><flag>` CRLF (RFC 4975 §9), for a transaction id without its head (a streamed piece's end).
    static func writeEndLine(_ transactionID: String, _ continuation: MSRPContinuation, into out: inout ByteBuffer) {
        out.writeString("-------" + transactionID)
        out.writeInteger(continuation.rawValue)
        out.writeString("\r\n")
    }
}
