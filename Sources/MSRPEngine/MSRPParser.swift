import NIOCore

/// A streaming MSRP parser (RFC 4975 §9) for a TCP stream or one WebSocket message: a head (start line and
/// headers), then — when the chunk has a body — the body in pieces as they arrive, then the end-line.
///
/// The body is scanned for `CRLF -------<tid> flag CRLF` without being held: everything that cannot be the start
/// of the end-line is handed out at once, so memory stays bounded by `Limits` however large a chunk is.
/// Limits: the head's size and field count, and a chunk's body size (a relay re-chunks long messages; one
/// chunk past the limit is refused).
public struct MSRPParser: Sendable {
    public struct Limits: Sendable, Hashable {
        public var maxHeadBytes: Int
        public var maxFields: Int
        public var maxBodyBytes: Int

        public init(maxHeadBytes: Int = 16 << 10, maxFields: Int = 64, maxBodyBytes: Int = 1 << 20) {
            self.maxHeadBytes = maxHeadBytes
            self.maxFields = maxFields
            self.maxBodyBytes = maxBodyBytes
        }
    }

    public enum Event: Sendable, Equatable {
        /// A complete head; `hasBody` tells whether body pieces follow before the end.
        case head(MSRPHead, hasBody: Bool)
        case body(ByteBuffer)
        case end(MSRPContinuation)
    }

    public enum Failure: Error, Sendable, Hashable, CustomStringConvertible {
        case malformedStartLine(String)
        case malformedField(String)
        case headTooLarge
        case tooManyFields
        case bodyTooLarge
        case missingBlankLine

        public var description: String {
            switch self {
            case .malformedStartLine(let why): return "malformed start line: \(why)"
            case .malformedField(let line): return "malformed header line: \(line)"
            case .headTooLarge: return "head too large"
            case .tooManyFields: return "too many header fields"
            case .bodyTooLarge: return "chunk body too large"
            case .missingBlankLine: return "body without Content-Type"
            }
        }
    }

    private enum State: Sendable {
        case startLine
        case fields(MSRPHead)
        case body(tid: String, delivered: Int)
        case failed
    }

    public let limits: Limits
    private var state: State = .startLine
    /// Bytes not yet consumed: an incomplete line, or the tail of a body that may start the end-line.
    private var pending = ByteBuffer()
    private var headBytes = 0

    public init(limits: Limits = .init()) {
        self.limits = limits
    }

    /// Whether the parser is between messages (nothing pending): what a WebSocket leg checks after each message.
    public var isIdle: Bool {
        if case .startLine = state { return pending.readableBytes == 0 && pendingEnd == nil }
        return false
    }

    /// The next event from the bytes given so far (appending `input`, which is consumed), nil when more bytes
    /// are needed. After a failure every call fails again.
    public mutating func next(_ input: inout ByteBuffer) -> Result<Event, Failure>? {
        if input.readableBytes > 0 {
            if pending.readableBytes == 0 {
                // Nothing held: the input becomes what is pending, uncopied, and the bodies handed out are slices
                // of it. Appending to an emptied buffer instead would keep every byte ever read in its storage.
                pending = input
                input.moveReaderIndex(to: input.writerIndex)
            } else if pending.readerIndex > 0 {
                // A tail is held (a line's start, or bytes that may start the end-line): it and the input go to a
                // fresh buffer. Appending would grow storage that never drops what was read before the tail (and
                // that slices already handed out may still share).
                var joined = ByteBuffer()
                joined.reserveCapacity(pending.readableBytes + input.readableBytes)
                joined.writeBuffer(&pending)
                joined.writeBuffer(&input)
                pending = joined
            } else {
                pending.writeBuffer(&input)
            }
        }
        if let end = pendingEnd {
            pendingEnd = nil
            return .success(.end(end))
        }
        switch state {
        case .failed:
            return .failure(.malformedStartLine("after an earlier failure"))
        case .startLine:
            guard let line = takeLine() else { return headOverflow() }
            switch line {
            case .failure(let f): return fail(f)
            case .success(let text):
                switch Self.parseStartLine(text) {
                case .failure(let f): return fail(f)
                case .success(let head):
                    state = .fields(head)
                    return next(&input)
                }
            }
        case .fields(var head):
            let text: String
            switch takeLine() {
            case nil: return headOverflow()
            case .failure(let f)?: return fail(f)
            case .success(let line)?: text = line
            }
            if text.isEmpty {
                guard head["Content-Type"] != nil else { return fail(.missingBlankLine) }
                state = .body(tid: head.transactionID, delivered: 0)
                headBytes = 0
                return .success(.head(head, hasBody: true))
            }
            if text.hasPrefix("-------") {
                let endLine = Array(text.utf8)
                let tid = Array(head.transactionID.utf8)
                guard endLine.count == 7 + tid.count + 1, Array(endLine[7..<(7 + tid.count)]) == tid,
                      let flag = MSRPContinuation(rawValue: endLine.last!) else {
                    return fail(.malformedField(text))
                }
                // A head with no body: the end-line follows the fields; the caller gets both, head first.
                state = .startLine
                headBytes = 0
                pendingEnd = flag
                return .success(.head(head, hasBody: false))
            }
            guard head.fields.count < limits.maxFields else { return fail(.tooManyFields) }
            let utf8 = text.utf8
            guard let colon = utf8.firstIndex(of: UInt8(ascii: ":")), colon != utf8.startIndex,
                  utf8[..<colon].allSatisfy({ MSRPURI.isTokenCharacter($0) }) else {
                return fail(.malformedField(text))
            }
            let valueStart = utf8[utf8.index(after: colon)...].firstIndex { $0 != UInt8(ascii: " ") } ?? utf8.endIndex
            head.fields.append(.init(String(text[..<colon]), String(text[valueStart...])))
            state = .fields(head)
            return next(&input)
        case .body(let tid, let delivered):
            return scanBody(tid: tid, delivered: delivered)
        }
    }

    /// The end of a bodiless chunk, reported on the call after its head.
    private var pendingEnd: MSRPContinuation?

    private mutating func scanBody(tid: String, delivered: Int) -> Result<Event, Failure>? {
        let marker = Array("\r\n-------\(tid)".utf8)
        let needed = marker.count + 3 // flag and CRLF
        let found: (index: Int, flag: MSRPContinuation?)? = pending.withUnsafeReadableBytes { bytes in
            var i = 0
            while i + marker.count <= bytes.count {
                guard let rel = UnsafeRawBufferPointer(rebasing: bytes[i...]).firstIndex(of: 0x0D) else { return nil }
                let at = i + rel
                guard at + marker.count <= bytes.count else { return (at, nil) } // may be the start of the marker
                if bytes[at..<(at + marker.count)].elementsEqual(marker) {
                    guard at + needed <= bytes.count else { return (at, nil) }
                    if let flag = MSRPContinuation(rawValue: bytes[at + marker.count]),
                       bytes[at + marker.count + 1] == 0x0D, bytes[at + marker.count + 2] == 0x0A {
                        return (at, flag)
                    }
                }
                i = at + 1
            }
            return nil
        }
        let deliverable: Int
        switch found {
        case .some((let index, .some(let flag))):
            if index > 0 {
                guard delivered + index <= limits.maxBodyBytes else { return fail(.bodyTooLarge) }
                let piece = pending.readSlice(length: index)!
                state = .body(tid: tid, delivered: delivered + index)
                return .success(.body(piece))
            }
            pending.moveReaderIndex(forwardBy: needed)
            state = .startLine
            return .success(.end(flag))
        case .some((let index, .none)):
            deliverable = index
        case .none:
            deliverable = max(0, pending.readableBytes - (marker.count - 1))
        }
        guard deliverable > 0 else { return nil }
        guard delivered + deliverable <= limits.maxBodyBytes else { return fail(.bodyTooLarge) }
        let piece = pending.readSlice(length: deliverable)!
        state = .body(tid: tid, delivered: delivered + deliverable)
        return .success(.body(piece))
    }

    /// A CRLF-terminated line of the head (without its CRLF), counting against the head limit; nil: incomplete.
    private mutating func takeLine() -> Result<String, Failure>? {
        guard let lf = pending.withUnsafeReadableBytes({ $0.firstIndex(of: 0x0A) }) else { return nil }
        headBytes += lf + 1
        guard headBytes <= limits.maxHeadBytes else { return .failure(.headTooLarge) }
        // Checked on the buffer's bytes, then one String made of them (the head is parsed for every chunk).
        let (crlf, control) = pending.withUnsafeReadableBytes { b -> (Bool, Bool) in
            guard lf >= 1, b[lf - 1] == 0x0D else { return (false, false) }
            return (true, b[..<(lf - 1)].contains { $0 < 0x20 && $0 != 0x09 })
        }
        guard crlf else {
            pending.moveReaderIndex(forwardBy: lf + 1)
            return .failure(.malformedField("a line without CRLF"))
        }
        guard !control else {
            pending.moveReaderIndex(forwardBy: lf + 1)
            return .failure(.malformedField("control character"))
        }
        let text = pending.readString(length: lf - 1)!
        pending.moveReaderIndex(forwardBy: 2)
        return .success(text)
    }

    private mutating func headOverflow() -> Result<Event, Failure>? {
        headBytes + pending.readableBytes > limits.maxHeadBytes ? fail(.headTooLarge) : nil
    }

    private mutating func fail(_ failure: Failure) -> Result<Event, Failure> {
        state = .failed
        return .failure(failure)
    }

    /// `MSRP SP transact-id SP method` or `MSRP SP transact-id SP status-code [SP comment]`.
    static func parseStartLine(_ line: String) -> Result<MSRPHead, Failure> {
        // Split on the UTF-8 view: its indices are the string's, and no Character is formed.
        let utf8 = line.utf8
        let parts = utf8.split(separator: UInt8(ascii: " "), maxSplits: 3, omittingEmptySubsequences: false)
        guard parts.count >= 3, parts[0].elementsEqual("MSRP".utf8) else { return .failure(.malformedStartLine("not an MSRP start line")) }
        let tid = parts[1]
        guard isTransactionID(tid) else { return .failure(.malformedStartLine("bad transaction id")) }
        let third = parts[2]
        let tidText = String(line[tid.startIndex..<tid.endIndex])
        if third.count == 3, third.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }) {
            let code = third.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
            if code >= 100 {
                let comment = parts.count == 4 ? String(line[parts[3].startIndex..<parts[3].endIndex]) : nil
                return .success(MSRPHead(transactionID: tidText, startLine: .response(code: code, comment: comment), fields: []))
            }
        }
        guard parts.count == 3, !third.isEmpty, third.allSatisfy({ (0x41...0x5A).contains($0) }) else {
            return .failure(.malformedStartLine("bad method or status"))
        }
        return .success(MSRPHead(transactionID: tidText, startLine: .request(method: String(line[third.startIndex..<third.endIndex])),
                                 fields: []))
    }

    /// `ident = ALPHANUM 3*31ident-char`, ident-char = ALPHANUM / "." / "-" / "+" / "%" / "=".
    static func isTransactionID(_ bytes: Substring.UTF8View) -> Bool {
        guard (4...32).contains(bytes.count), let first = bytes.first, isAlphanumeric(first) else { return false }
        return bytes.dropFirst().allSatisfy { isAlphanumeric($0) || ".-+%=".utf8.contains($0) }
    }

    static func isAlphanumeric(_ c: UInt8) -> Bool {
        (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c)
    }
}
