import NIOCore
import WebSocketEngine

/// Collects a client's inbound bytes until an HTTP response head is complete (a proxy's answer to CONNECT,
/// a server's answer to the upgrade request); the bytes after the head stay in `remainder`.
struct ResponseHeadReader {
    enum Outcome {
        case needMoreData
        case failed(HTTPHeadParser.ParseError)
        case complete(HTTPResponseHead)
    }

    private var parser: HTTPHeadParser
    /// Bytes received and not yet consumed; after `.complete`, what followed the head.
    private(set) var remainder = ByteBuffer()

    init(limits: HTTPHeadParser.Limits) {
        parser = HTTPHeadParser(limits: limits)
    }

    mutating func read(_ incoming: inout ByteBuffer) -> Outcome {
        remainder.writeBuffer(&incoming)
        switch remainder.withUnsafeReadableBytes({ parser.parseResponse($0) }) {
        case .needMoreData:
            return .needMoreData
        case .failed(let error):
            return .failed(error)
        case .complete(let head, let length):
            remainder.moveReaderIndex(forwardBy: length)
            return .complete(head)
        }
    }

    /// Hands over what followed the head, leaving nothing behind.
    mutating func takeRemainder() -> ByteBuffer {
        defer { remainder = ByteBuffer() }
        return remainder
    }
}
