/// A WebSocket close status code (RFC 6455 §7.4).
public struct CloseCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    @inlinable public init(rawValue: UInt16) { self.rawValue = rawValue }
    @inlinable public init(_ rawValue: UInt16) { self.rawValue = rawValue }

    // Computed and inlinable rather than `static let`: a global constant of another module is read through its
    // lazy-initialisation accessor, and the transport uses these on its per-connection paths.
    @inlinable public static var normalClosure: CloseCode { CloseCode(1000) }
    @inlinable public static var goingAway: CloseCode { CloseCode(1001) }
    @inlinable public static var protocolError: CloseCode { CloseCode(1002) }
    @inlinable public static var unsupportedData: CloseCode { CloseCode(1003) }
    /// Never sent on the wire: reported locally when a close frame carried no code.
    @inlinable public static var noStatusReceived: CloseCode { CloseCode(1005) }
    /// Never sent on the wire: reported locally when the TCP connection ended without a close frame.
    @inlinable public static var abnormalClosure: CloseCode { CloseCode(1006) }
    @inlinable public static var invalidFramePayloadData: CloseCode { CloseCode(1007) }
    @inlinable public static var policyViolation: CloseCode { CloseCode(1008) }
    @inlinable public static var messageTooBig: CloseCode { CloseCode(1009) }
    @inlinable public static var mandatoryExtension: CloseCode { CloseCode(1010) }
    @inlinable public static var internalServerError: CloseCode { CloseCode(1011) }
    @inlinable public static var serviceRestart: CloseCode { CloseCode(1012) }
    @inlinable public static var tryAgainLater: CloseCode { CloseCode(1013) }
    @inlinable public static var badGateway: CloseCode { CloseCode(1014) }
    /// Never sent on the wire.
    @inlinable public static var tlsHandshakeFailure: CloseCode { CloseCode(1015) }

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
