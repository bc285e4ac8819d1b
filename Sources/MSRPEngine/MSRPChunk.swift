import NIOCore

/// One MSRP chunk, whole: its head, its body (nil when it has none) and how it ends.
public struct MSRPChunk: Sendable, Equatable {
    public var head: MSRPHead
    public var body: ByteBuffer?
    public var continuation: MSRPContinuation

    public init(head: MSRPHead, body: ByteBuffer? = nil, continuation: MSRPContinuation = .complete) {
        self.head = head
        self.body = body
        self.continuation = continuation
    }

    /// The chunk on the wire.
    public func serialized() -> ByteBuffer {
        var out = ByteBuffer()
        head.write(body: body, continuation: continuation, into: &out)
        return out
    }

    /// This chunk cut into chunks whose serialized size stays within `maxBytes` (a WebSocket leg's message
    /// limit, RFC 7977 §5.1): each piece gets a fresh transaction id and its own `Byte-Range`; all but the last
    /// end with `+`, the last keeps this chunk's ending. Returns [self] when it fits or has no body; nil when
    /// even the head alone would not fit or the `Byte-Range` cannot be read.
    public func split(maxBytes: Int, generator: inout some RandomNumberGenerator) -> [MSRPChunk]? {
        let whole = serialized()
        guard whole.readableBytes > maxBytes, let body, body.readableBytes > 0 else { return [self] }
        guard let range = head["Byte-Range"].flatMap(ByteRange.init(parsing:)) else { return nil }
        var pieces: [MSRPChunk] = []
        var rest = body
        var start = range.start
        while rest.readableBytes > 0 {
            var piece = self
            piece.head.transactionID = MSRPHead.makeTransactionID(using: &generator)
            piece.head["Byte-Range"] = ByteRange(start: start, end: start, total: range.total).description // sized below
            var empty = ByteBuffer()
            piece.head.write(body: ByteBuffer(), continuation: .more, into: &empty)
            // Room for the body: the limit minus the head with the widest Byte-Range this piece could carry.
            let overhead = empty.readableBytes + 2 * String(start + rest.readableBytes).count
            let room = maxBytes - overhead
            guard room > 0 else { return nil }
            let n = min(room, rest.readableBytes)
            piece.body = rest.readSlice(length: n)!
            piece.head["Byte-Range"] = ByteRange(start: start, end: start + n - 1, total: range.total).description
            piece.continuation = rest.readableBytes == 0 ? continuation : .more
            pieces.append(piece)
            start += n
        }
        return pieces
    }
}

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

/// Turns a byte stream (TCP) or one WebSocket message into whole chunks, holding at most one chunk's body —
/// bounded by the parser's `maxBodyBytes` — at a time.
public struct MSRPChunkReader: Sendable {
    private var parser: MSRPParser
    private var head: MSRPHead?
    private var body: ByteBuffer?

    public init(limits: MSRPParser.Limits = .init()) {
        parser = MSRPParser(limits: limits)
    }

    public var isIdle: Bool { head == nil && parser.isIdle }

    /// The next whole chunk from what was given so far (appending `input`); nil when more bytes are needed.
    /// `failure.partialHead` is the head of the chunk that failed, when it was read, so a 400 can name its
    /// transaction.
    public mutating func next(_ input: inout ByteBuffer) -> Result<MSRPChunk, Failure>? {
        while let event = parser.next(&input) {
            switch event {
            case .failure(let f):
                defer { head = nil; body = nil }
                return .failure(Failure(reason: f, partialHead: head))
            case .success(.head(let h, let hasBody)):
                head = h
                body = hasBody ? ByteBuffer() : nil
            case .success(.body(var piece)):
                body?.writeBuffer(&piece)
            case .success(.end(let flag)):
                guard let h = head else { return .failure(Failure(reason: .malformedStartLine("end without head"), partialHead: nil)) }
                defer { head = nil; body = nil }
                return .success(MSRPChunk(head: h, body: body, continuation: flag))
            }
        }
        return nil
    }

    public struct Failure: Error, Sendable, Equatable {
        public var reason: MSRPParser.Failure
        public var partialHead: MSRPHead?

        public init(reason: MSRPParser.Failure, partialHead: MSRPHead?) {
            self.reason = reason
            self.partialHead = partialHead
        }
    }
}
