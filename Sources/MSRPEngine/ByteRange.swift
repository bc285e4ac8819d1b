/// `Byte-Range: start-end/total` (RFC 4975 §9; `end` and `total` may be `*`).
public struct ByteRange: Sendable, Hashable, CustomStringConvertible {
    public var start: Int
    public var end: Int?
    public var total: Int?

    public init(start: Int, end: Int?, total: Int?) {
        self.start = start
        self.end = end
        self.total = total
    }

    public init?(parsing text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2 else { return nil }
        let span = parts[0].split(separator: "-", maxSplits: 1)
        guard span.count == 2, let s = Int(span[0]), s >= 1 else { return nil }
        start = s
        if span[1] == "*" { end = nil } else if let e = Int(span[1]), e >= s - 1 { end = e } else { return nil }
        if parts[1] == "*" { total = nil } else if let t = Int(parts[1]), t >= 0 { total = t } else { return nil }
    }

    public var description: String {
        "\(start)-\(end.map(String.init) ?? "*")/\(total.map(String.init) ?? "*")"
    }
}
