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
        get { fields.first { ASCIICase.equal($0.name, name) }?.value }
        set {
            if let i = fields.firstIndex(where: { ASCIICase.equal($0.name, name) }) {
                if let newValue { fields[i].value = newValue } else { fields.remove(at: i) }
            } else if let newValue {
                fields.append(Field(name, newValue))
            }
        }
    }

    public func toPath() throws(MSRPURI.ParseError) -> [MSRPURI] { try MSRPURI.parsePath(self["To-Path"] ?? "") }
    public func fromPath() throws(MSRPURI.ParseError) -> [MSRPURI] { try MSRPURI.parsePath(self["From-Path"] ?? "") }
}
