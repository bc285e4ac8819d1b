import NIOCore

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
