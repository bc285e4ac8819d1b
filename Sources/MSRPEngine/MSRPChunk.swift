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
