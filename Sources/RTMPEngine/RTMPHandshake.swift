import NIOCore

/// The plain RTMP handshake (no digest), as the Kaazing gateway did it (wsr.md §2): C0/S0 is the version byte
/// 0x03, C1/S1/C2/S2 are 1536 bytes each.
///
/// Server: on C0+C1 it sends S0, S1 (all zeros) and S2 = C1's time ‖ C1's time + 1 ‖ C1[8...]; it then waits
/// for C2 (whose content is not checked: Flash 11 echoes S1). Client: sends C0+C1 (time, four zero bytes, random),
/// reads S0+S1+S2 and sends C2 = S1.
public struct RTMPHandshake: Sendable {
    public static let version: UInt8 = 0x03
    public static let packetSize = 1536

    public enum Role: Sendable { case server, client }

    public enum Step: Sendable, Equatable {
        case needMoreData
        /// Send these bytes; the handshake goes on.
        case send(ByteBuffer)
        /// The handshake is complete; `send` (possibly empty) still goes out, and bytes after it are chunks.
        case done(send: ByteBuffer)
        case failed(String)
    }

    private enum State: Sendable { case start, awaitingC2, awaitingS0S1S2, done }

    public let role: Role
    private var state: State
    private var pending = ByteBuffer()
    private let c1: [UInt8]

    /// - Parameter random: the client's C1 filler (1528 bytes); tests pass fixed bytes.
    public init(role: Role, random: [UInt8]? = nil) {
        self.role = role
        self.state = role == .server ? .start : .awaitingS0S1S2
        var generator = SystemRandomNumberGenerator()
        let filler = random ?? (0..<(Self.packetSize - 8)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        c1 = [0, 0, 0, 0, 0, 0, 0, 0] + filler.prefix(Self.packetSize - 8)
    }

    /// The client's first bytes: C0 + C1.
    public var clientHello: ByteBuffer {
        var out = ByteBuffer()
        out.writeInteger(Self.version)
        out.writeBytes(c1)
        return out
    }

    /// Consumes handshake bytes from `input` (leaving what follows the handshake).
    public mutating func read(_ input: inout ByteBuffer) -> Step {
        pending.writeBuffer(&input)
        switch state {
        case .start:
            guard pending.readableBytes >= 1 + Self.packetSize else {
                if let v = pending.getInteger(at: pending.readerIndex, as: UInt8.self), v != Self.version {
                    return .failed("not RTMP: first byte \(v)")
                }
                return .needMoreData
            }
            guard pending.readInteger(as: UInt8.self) == Self.version else { return .failed("unsupported RTMP version") }
            let clientC1 = pending.readBytes(length: Self.packetSize)!
            var out = ByteBuffer()
            out.writeInteger(Self.version)
            out.writeRepeatingByte(0, count: Self.packetSize) // S1
            let time = UInt32(clientC1[0]) << 24 | UInt32(clientC1[1]) << 16 | UInt32(clientC1[2]) << 8 | UInt32(clientC1[3])
            out.writeInteger(time)
            out.writeInteger(time &+ 1)
            out.writeBytes(clientC1[8...])
            state = .awaitingC2
            let more = read(&input)
            if case .done(var after) = more {
                out.writeBuffer(&after)
                return .done(send: out)
            }
            return .send(out)
        case .awaitingC2:
            guard pending.readableBytes >= Self.packetSize else { return .needMoreData }
            pending.moveReaderIndex(forwardBy: Self.packetSize)
            state = .done
            input = pending
            pending = ByteBuffer()
            return .done(send: ByteBuffer())
        case .awaitingS0S1S2:
            guard pending.readableBytes >= 1 + 2 * Self.packetSize else { return .needMoreData }
            guard pending.readInteger(as: UInt8.self) == Self.version else { return .failed("unsupported RTMP version") }
            let s1 = pending.readBytes(length: Self.packetSize)!
            pending.moveReaderIndex(forwardBy: Self.packetSize) // S2, not checked (the gateway's is not an echo)
            state = .done
            input = pending
            pending = ByteBuffer()
            return .done(send: ByteBuffer(bytes: s1))
        case .done:
            return .done(send: ByteBuffer())
        }
    }
}
