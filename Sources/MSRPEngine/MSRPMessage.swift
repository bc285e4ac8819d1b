import NIOCore

/// How a chunk ends (RFC 4975 §7.1): more chunks follow, the message is complete, or it was aborted.
public enum MSRPContinuation: UInt8, Sendable, Hashable {
    case more = 0x2B // "+"
    case complete = 0x24 // "$"
    case aborted = 0x23 // "#"
}

/// The start line and headers of an MSRP request or response (RFC 4975 §9); the body travels separately so
/// that a large chunk is never held whole.
public struct MSRPHead: Sendable, Equatable {
    public enum StartLine: Sendable, Equatable {
        case request(method: String)
        case response(code: Int, comment: String?)
    }

    public struct Field: Sendable, Equatable {
        public var name: String
        public var value: String
        public init(_ name: String, _ value: String) {
            self.name = name
            self.value = value
        }
    }

    public var transactionID: String
    public var startLine: StartLine
    /// In order; `To-Path` and `From-Path` come first on the wire.
    public var fields: [Field]

    public init(transactionID: String, startLine: StartLine, fields: [Field]) {
        self.transactionID = transactionID
        self.startLine = startLine
        self.fields = fields
    }

    public var method: String? {
        if case .request(let m) = startLine { return m }
        return nil
    }

    public var statusCode: Int? {
        if case .response(let code, _) = startLine { return code }
        return nil
    }

    /// The first value of a header, by name without regard to case.
    public subscript(_ name: String) -> String? {
        get { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
        set {
            if let i = fields.firstIndex(where: { $0.name.lowercased() == name.lowercased() }) {
                if let newValue { fields[i].value = newValue } else { fields.remove(at: i) }
            } else if let newValue {
                fields.append(Field(name, newValue))
            }
        }
    }

    public func toPath() throws(MSRPURI.ParseError) -> [MSRPURI] { try MSRPURI.parsePath(self["To-Path"] ?? "") }
    public func fromPath() throws(MSRPURI.ParseError) -> [MSRPURI] { try MSRPURI.parsePath(self["From-Path"] ?? "") }

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
        out.writeString("-------" + transactionID)
        out.writeInteger(continuation.rawValue)
        out.writeString("\r\n")
    }

    /// A transaction id: RFC 4975 §7.1 asks for at least 64 bits of randomness; 16 base-62 characters carry 95.
    public static func makeTransactionID(using generator: inout some RandomNumberGenerator) -> String {
        randomToken(length: 16, using: &generator)
    }

    static let alphanumerics = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)

    /// `length` random ALPHANUM characters (5.95 bits each).
    public static func randomToken(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        String(decoding: (0..<length).map { _ in alphanumerics.randomElement(using: &generator)! }, as: UTF8.self)
    }
}
