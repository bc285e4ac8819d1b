import NIOCore

/// The body of a close frame: an optional status code and a UTF-8 reason (§5.5.1).
public struct CloseFrame: Hashable, Sendable {
    /// nil when the frame had no body (reported to applications as 1005).
    public var code: CloseCode?
    public var reason: String

    public init(code: CloseCode?, reason: String = "") {
        self.code = code
        self.reason = reason
    }

    /// Why a received close body is unacceptable, with the close code the connection must fail with.
    public enum ParseError: Error, Hashable, Sendable {
        /// A one-byte body, or a code that may not appear on the wire: 1002.
        case protocolError(String)
        /// The reason is not UTF-8: 1007.
        case invalidReason

        public var closeCode: CloseCode {
            switch self {
            case .protocolError: return .protocolError
            case .invalidReason: return .invalidFramePayloadData
            }
        }
    }

    /// Parses and validates a received close payload.
    public static func parse(_ payload: ByteBuffer) -> Result<CloseFrame, ParseError> {
        var payload = payload
        switch payload.readableBytes {
        case 0:
            return .success(CloseFrame(code: nil))
        case 1:
            return .failure(.protocolError("close frame with a one-byte body"))
        default:
            let code = CloseCode(payload.readInteger(as: UInt16.self)!)
            guard code.isValidOnWire else {
                return .failure(.protocolError("close code \(code.rawValue) is not allowed on the wire"))
            }
            let valid = payload.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
            guard valid else { return .failure(.invalidReason) }
            return .success(CloseFrame(code: code, reason: payload.readString(length: payload.readableBytes) ?? ""))
        }
    }

    /// The wire form of a close body. The reason is cut at a character boundary so the frame stays ≤ 125 bytes.
    public func encode(into buffer: inout ByteBuffer) {
        guard let code else { return }
        buffer.writeInteger(code.rawValue)
        var utf8 = Array(reason.utf8.prefix(123))
        // Drop a partial trailing character left by the cut.
        while !utf8.isEmpty, !utf8.withUnsafeBytes({ UTF8Validator.isValid($0) }) { utf8.removeLast() }
        buffer.writeBytes(utf8)
    }
}
