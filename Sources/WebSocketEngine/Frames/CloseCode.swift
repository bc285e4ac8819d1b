/// A WebSocket close status code (RFC 6455 §7.4).
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }
    public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    public static let normalClosure = CloseCode(1000)
    public static let goingAway = CloseCode(1001)
    public static let protocolError = CloseCode(1002)
    public static let unsupportedData = CloseCode(1003)
    /// Never sent on the wire: reported locally when a close frame carried no code.
    public static let noStatusReceived = CloseCode(1005)
    /// Never sent on the wire: reported locally when the TCP connection ended without a close frame.
    public static let abnormalClosure = CloseCode(1006)
    public static let invalidFramePayloadData = CloseCode(1007)
    public static let policyViolation = CloseCode(1008)
    public static let messageTooBig = CloseCode(1009)
    public static let mandatoryExtension = CloseCode(1010)
    public static let internalServerError = CloseCode(1011)
    public static let serviceRestart = CloseCode(1012)
    public static let tryAgainLater = CloseCode(1013)
    public static let badGateway = CloseCode(1014)
    /// Never sent on the wire.
    public static let tlsHandshakeFailure = CloseCode(1015)

    /// Whether a peer may put this code in a close frame (RFC 6455 §7.4.1 / §7.4.2 and the IANA registry).
    ///
    /// 1000–1003 and 1007–1011 are defined by the RFC; 1012–1014 were registered with IANA later and are
    /// accepted by browsers; 1004 is reserved, 1005/1006/1015 are local-only; 1016–2999 are reserved for
    /// future protocol use, 3000–4999 belong to libraries and applications; everything else is invalid.
    @inlinable public var isValidOnWire: Bool {
        switch rawValue {
        case 1000...1003, 1007...1014, 3000...4999: return true
        default: return false
        }
    }

    public var description: String { String(rawValue) }
}
