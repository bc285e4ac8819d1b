/// The 4-bit frame opcode of RFC 6455 §5.2.
///
/// Kept as a raw-value struct rather than an enum so that the parser can carry a reserved opcode far enough
/// to reject it with 1002 instead of trapping on an unknown enum case.
public struct WebSocketOpcode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8

    @inlinable public init(rawValue: UInt8) { self.rawValue = rawValue & 0x0F }

    // Computed and inlinable rather than `static let`: a global constant of another module is read through its
    // lazy-initialisation accessor, and these are compared on every frame in the transport.
    @inlinable public static var continuation: WebSocketOpcode { WebSocketOpcode(rawValue: 0x0) }
    @inlinable public static var text: WebSocketOpcode { WebSocketOpcode(rawValue: 0x1) }
    @inlinable public static var binary: WebSocketOpcode { WebSocketOpcode(rawValue: 0x2) }
    @inlinable public static var close: WebSocketOpcode { WebSocketOpcode(rawValue: 0x8) }
    @inlinable public static var ping: WebSocketOpcode { WebSocketOpcode(rawValue: 0x9) }
    @inlinable public static var pong: WebSocketOpcode { WebSocketOpcode(rawValue: 0xA) }

    /// Control frames have the high bit of the opcode set (§5.5).
    @inlinable public var isControl: Bool { rawValue & 0x8 != 0 }

    /// Opcodes 0x3–0x7 and 0xB–0xF are reserved; receiving one fails the connection (§5.2).
    @inlinable public var isReserved: Bool {
        switch rawValue {
        case 0x0, 0x1, 0x2, 0x8, 0x9, 0xA: return false
        default: return true
        }
    }

    public var description: String {
        switch rawValue {
        case 0x0: return "continuation"
        case 0x1: return "text"
        case 0x2: return "binary"
        case 0x8: return "close"
        case 0x9: return "ping"
        case 0xA: return "pong"
        default: return "reserved(0x\(String(rawValue, radix: 16)))"
        }
    }
}
