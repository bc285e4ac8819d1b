import NIOCore

/// What goes out on one connection of the relay, as a state machine that never touches the connection: whole
/// chunks (responses, REPORTs, bodiless or small requests) and *streamed* chunks — SENDs whose body is forwarded as
/// it arrives from the source, so that no leg holds a whole chunk.
///
/// Several sources may stream to one connection at once, and a whole chunk may come while a streamed one is half
/// out. Nothing waits behind a long chunk (RFC 4975 §7.1.1): on a byte stream the chunk on the wire is ended with
/// `+` where it stands, the other chunk goes, and the rest follows as a new chunk — a new transaction id, the
/// `Byte-Range` continued from the first byte not yet sent. The receiver learns the interrupted chunk's true range
/// from its data (§7.1.1); the `Message-ID` ties the pieces together.
///
/// On a WebSocket leg (`messages` framing, RFC 7977 §5.1) every chunk is one message of at most `maxBytes`: a
/// streamed body is gathered into pieces that fill a message, each sent whole with `+` (re-chunking), so pieces of
/// different chunks interleave message by message and the memory held is one message per stream.
///
/// The machine buffers nothing else: what it returns is written at once, and a slow connection is the I/O layer's
/// to push back on (it pauses reading from the sources while the connection's queue is long).
public struct MSRPOutbound: Sendable {
    public typealias StreamID = Int

    public enum Framing: Sendable, Equatable {
        /// A TCP or TLS byte stream; a streamed chunk goes out in pieces of at most `maxPieceBytes` of body (nil:
        /// one piece until something interrupts it). Bounded pieces are what a relay paces a transfer by: each is
        /// a transaction the next hop answers when it has read it (`MSRPLeg` keeps a few unanswered at most).
        case stream(maxPieceBytes: Int?)
        /// One chunk per message (a WebSocket leg), each at most `maxBytes` serialized.
        case messages(maxBytes: Int)
    }

    public enum Action: Sendable, Equatable {
        /// Bytes for the connection: with `stream` framing any stretch of the byte stream, with `messages` one
        /// whole chunk (one message).
        case write(ByteBuffer)
        /// A piece of stream `stream` goes out as a request with this head (its own transaction id and
        /// `Byte-Range`): the relay tracks its transaction. Returned before the piece's bytes, so a response can
        /// never arrive before its transaction is known.
        case pieceStarted(MSRPHead, stream: StreamID)
    }

    public enum Failure: Error, Sendable, Equatable {
        /// The head's `Byte-Range` could not be read: the chunk cannot be cut, so it cannot be streamed.
        case unreadableByteRange
        /// More body than the `Byte-Range` said the chunk has.
        case longerThanItsByteRange
    }

    struct Stream: Sendable {
        /// The forwarded head: every piece's head is it with its own transaction id and `Byte-Range`.
        var head: MSRPHead
        var range: ByteRange
        /// The `Byte-Range` position of the next body byte.
        var next: Int
        /// With `stream` framing: the transaction id of this stream's piece on the wire, if one is.
        var openPiece: String?
        /// With `messages` framing: body bytes not yet sent, less than one message's worth.
        var gathered = ByteBuffer()
        /// Whether any piece went out yet (a stream that ends before its first byte is one bodiless chunk).
        var started = false
        /// Body bytes of the piece on the wire.
        var pieceBytes = 0
    }

    public let framing: Framing
    private var streams: [StreamID: Stream] = [:]
    /// With `stream` framing: the stream whose piece is on the wire now (its body bytes may follow directly).
    private var onWire: StreamID?
    private var nextID: StreamID = 1

    public init(framing: Framing) {
        self.framing = framing
    }

    /// Streams begun and not yet ended.
    public var openStreamCount: Int { streams.count }

    /// A whole chunk (already serialized; with `messages` framing one message that fits): the stream on the wire,
    /// if any, is interrupted first.
    public mutating func send(whole chunk: ByteBuffer) -> [Action] {
        var actions = interruptOnWire()
        actions.append(.write(chunk))
        return actions
    }

    /// A chunk whose body will follow in pieces: `head` is the head to forward (paths rewritten) with the
    /// source's `Byte-Range`. Nothing goes out until its first body byte or its end.
    public mutating func begin(_ head: MSRPHead) throws(Failure) -> StreamID {
        guard let range = head["Byte-Range"].flatMap(ByteRange.init(parsing:)) else { throw .unreadableByteRange }
        let id = nextID
        nextID += 1
        streams[id] = Stream(head: head, range: range, next: range.start)
        return id
    }

    /// More of stream `id`'s body.
    public mutating func body(_ id: StreamID, _ bytes: ByteBuffer, generator: inout some RandomNumberGenerator) throws(Failure) -> [Action] {
        guard var stream = streams[id], bytes.readableBytes > 0 else { return [] }
        if let end = stream.range.end, stream.next + bytes.readableBytes - 1 > end { throw .longerThanItsByteRange }
        var actions: [Action] = []
        switch framing {
        case .stream(let maxPieceBytes):
            var bytes = bytes
            while bytes.readableBytes > 0 {
                if onWire == id, let limit = maxPieceBytes, stream.pieceBytes >= limit, let tid = stream.openPiece {
                    // The piece is full and more comes: it ends here with `+`, the rest starts the next one. (A piece
                    // is closed only when a byte beyond it arrives, so the chunk's own end always has a piece.)
                    actions.append(.write(Self.endLine(tid, .more, afterBody: true)))
                    stream.openPiece = nil
                    onWire = nil
                }
                if onWire != id {
                    streams[id] = stream
                    actions += interruptOnWire()
                    stream = streams[id]!
                    let head = pieceHead(of: stream, generator: &generator)
                    actions.append(.pieceStarted(head, stream: id))
                    var out = ByteBuffer()
                    head.write(into: &out)
                    out.writeString("\r\n")
                    actions.append(.write(out))
                    stream.openPiece = head.transactionID
                    stream.started = true
                    stream.pieceBytes = 0
                    onWire = id
                }
                let n = maxPieceBytes.map { min(bytes.readableBytes, max(1, $0 - stream.pieceBytes)) } ?? bytes.readableBytes
                stream.next += n
                stream.pieceBytes += n
                actions.append(.write(bytes.readSlice(length: n)!))
            }
        case .messages(let maxBytes):
            var bytes = bytes
            stream.gathered.writeBuffer(&bytes)
            // A piece goes once more than a message's worth is gathered, so the end always has a byte to carry.
            while true {
                let room = roomForBody(of: stream, maxBytes: maxBytes)
                guard room > 0, stream.gathered.readableBytes > room else { break }
                let piece = stream.gathered.readSlice(length: room)!
                actions += message(of: &stream, id, body: piece, ending: .more, generator: &generator)
            }
            if stream.gathered.readableBytes == 0 { stream.gathered = ByteBuffer() } else { stream.gathered.discardReadBytes() }
        }
        streams[id] = stream
        return actions
    }

    /// Stream `id`'s chunk ended with `flag` at its source (`#` too: the source aborted, or vanished).
    public mutating func end(_ id: StreamID, _ flag: MSRPContinuation, generator: inout some RandomNumberGenerator) -> [Action] {
        guard var stream = streams.removeValue(forKey: id) else { return [] }
        switch framing {
        case .stream:
            if onWire == id, let tid = stream.openPiece {
                onWire = nil
                return [.write(Self.endLine(tid, flag, afterBody: true))]
            }
            var actions = interruptOnWire()
            // Nothing of it is on the wire now: it ends in a chunk of its own, bodiless.
            let head = bodilessHead(of: stream, generator: &generator)
            actions.append(.pieceStarted(head, stream: id))
            var out = ByteBuffer()
            head.write(into: &out)
            var endLine = Self.endLine(head.transactionID, flag, afterBody: false)
            out.writeBuffer(&endLine)
            actions.append(.write(out))
            return actions
        case .messages:
            let body = stream.gathered
            if body.readableBytes == 0, stream.started {
                let head = bodilessHead(of: stream, generator: &generator)
                var out = ByteBuffer()
                head.write(body: nil, continuation: flag, into: &out)
                return [.pieceStarted(head, stream: id), .write(out)]
            }
            return message(of: &stream, id, body: body.readableBytes > 0 ? body : nil, ending: flag, generator: &generator)
        }
    }

    // MARK: Pieces

    /// Ends the piece on the wire with `+` (the stream stays open; its next byte starts a new piece).
    private mutating func interruptOnWire() -> [Action] {
        guard let id = onWire else { return [] }
        onWire = nil
        guard let tid = streams[id]?.openPiece else { return [] }
        streams[id]?.openPiece = nil
        return [.write(Self.endLine(tid, .more, afterBody: true))]
    }

    /// The head of the stream's next piece: the first keeps the source's `Byte-Range` as it was; later ones
    /// start where the last one stopped and keep its end and total.
    private func pieceHead(of stream: Stream, generator: inout some RandomNumberGenerator) -> MSRPHead {
        var head = stream.head
        head.transactionID = MSRPHead.makeTransactionID(using: &generator)
        if stream.started {
            head["Byte-Range"] = ByteRange(start: stream.next, end: stream.range.end, total: stream.range.total).description
        }
        return head
    }

    /// A piece without a body (the stream ended while none of it was on the wire): no `Content-Type`, and an
    /// empty `Byte-Range` where the body stopped.
    private func bodilessHead(of stream: Stream, generator: inout some RandomNumberGenerator) -> MSRPHead {
        var head = pieceHead(of: stream, generator: &generator)
        head.fields.removeAll { $0.name.lowercased().hasPrefix("content-") }
        if stream.started {
            head["Byte-Range"] = ByteRange(start: stream.next, end: stream.next - 1, total: stream.range.total).description
        }
        return head
    }

    /// One whole piece as a message (`messages` framing).
    private func message(of stream: inout Stream, _ id: StreamID, body: ByteBuffer?, ending: MSRPContinuation,
                         generator: inout some RandomNumberGenerator) -> [Action] {
        var head = pieceHead(of: stream, generator: &generator)
        let count = body?.readableBytes ?? 0
        if stream.started || ending == .more {
            head["Byte-Range"] = ByteRange(start: stream.next, end: ending == .more || stream.range.end == nil ? stream.next + count - 1 : stream.range.end,
                                           total: stream.range.total).description
        }
        if body == nil { head.fields.removeAll { $0.name.lowercased().hasPrefix("content-") } }
        var out = ByteBuffer()
        head.write(body: body, continuation: ending, into: &out)
        stream.next += count
        stream.started = true
        return [.pieceStarted(head, stream: id), .write(out)]
    }

    /// Room for body bytes in one message: the limit minus the piece's head with the widest `Byte-Range` it could
    /// carry (start and end as long as the last position the stream may reach).
    private func roomForBody(of stream: Stream, maxBytes: Int) -> Int {
        var head = stream.head
        head.transactionID = String(repeating: "x", count: 16)
        let widest = stream.range.end ?? (stream.next + maxBytes + stream.gathered.readableBytes)
        head["Byte-Range"] = "\(widest)-\(widest)/\(stream.range.total.map(String.init) ?? "*")"
        var empty = ByteBuffer()
        head.write(body: ByteBuffer(), continuation: .more, into: &empty)
        return maxBytes - empty.readableBytes
    }

    static func endLine(_ transactionID: String, _ flag: MSRPContinuation, afterBody: Bool) -> ByteBuffer {
        var out = ByteBuffer()
        if afterBody { out.writeString("\r\n") }
        MSRPHead.writeEndLine(transactionID, flag, into: &out)
        return out
    }
}
