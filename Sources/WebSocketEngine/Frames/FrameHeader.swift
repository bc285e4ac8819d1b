import NIOCore

/// The fixed part of an RFC 6455 frame (§5.2): flags, opcode, mask and payload length. `package`, like the
/// masking kernels: the wire format is the engine's business, `RFC6455Connection` its interface.
package struct FrameHeader: Hashable, Sendable {
    package var fin: Bool
    /// RSV1–RSV3 in their wire position (0x70). Non-zero only when an extension negotiated them.
    package var reservedBits: UInt8
    package var opcode: WebSocketOpcode
    package var maskingKey: MaskingKey?
    package var payloadLength: Int

    package init(fin: Bool = true, reservedBits: UInt8 = 0, opcode: WebSocketOpcode,
                maskingKey: MaskingKey? = nil, payloadLength: Int) {
        self.fin = fin
        self.reservedBits = reservedBits
        self.opcode = opcode
        self.maskingKey = maskingKey
        self.payloadLength = payloadLength
    }

    /// Bytes the header takes on the wire.
    @inlinable package var encodedLength: Int {
        let lengthBytes = payloadLength < 126 ? 0 : (payloadLength <= 0xFFFF ? 2 : 8)
        return 2 + lengthBytes + (maskingKey == nil ? 0 : 4)
    }

    package static let rsv1: UInt8 = 0x40
    package static let rsv2: UInt8 = 0x20
    package static let rsv3: UInt8 = 0x10

    /// The largest header: 2 + 8 (64-bit length) + 4 (mask).
    package static let maximumLength = 14
}

/// Why a frame header is not acceptable at the framing level.
package enum FrameHeaderError: Error, Hashable, Sendable {
    /// A length was not encoded in the fewest bytes (§5.2: "the minimal number of bytes MUST be used").
    case nonMinimalLength
    /// The most significant bit of a 64-bit length was set (§5.2).
    case lengthTooLarge
}

extension FrameHeader {
    package enum ParseResult: Hashable, Sendable {
        case needMoreData
        case header(FrameHeader, headerLength: Int)
        case invalid(FrameHeaderError)
    }

    /// Parses a header from the start of `bytes` without consuming anything.
    @inlinable
    package static func parse(_ bytes: UnsafeRawBufferPointer) -> ParseResult {
        let count = bytes.count
        guard count >= 2, let p = bytes.baseAddress else { return .needMoreData }
        let b0 = p.load(as: UInt8.self)
        let b1 = p.load(fromByteOffset: 1, as: UInt8.self)
        let masked = b1 & 0x80 != 0
        var length = Int(b1 & 0x7F)
        var offset = 2
        if length == 126 {
            guard count >= 4 else { return .needMoreData }
            length = Int(UInt16(p.load(fromByteOffset: 2, as: UInt8.self)) << 8
                         | UInt16(p.load(fromByteOffset: 3, as: UInt8.self)))
            if length < 126 { return .invalid(.nonMinimalLength) }
            offset = 4
        } else if length == 127 {
            guard count >= 10 else { return .needMoreData }
            var wide: UInt64 = 0
            for i in 2..<10 { wide = wide << 8 | UInt64(p.load(fromByteOffset: i, as: UInt8.self)) }
            if wide & (1 << 63) != 0 { return .invalid(.lengthTooLarge) }
            if wide <= 0xFFFF { return .invalid(.nonMinimalLength) }
            // Int is 64-bit on every platform wsgate targets; a length past Int.max was refused above.
            length = Int(wide)
            offset = 10
        }
        var key: MaskingKey? = nil
        if masked {
            guard count >= offset + 4 else { return .needMoreData }
            key = MaskingKey(p.load(fromByteOffset: offset, as: UInt8.self),
                             p.load(fromByteOffset: offset + 1, as: UInt8.self),
                             p.load(fromByteOffset: offset + 2, as: UInt8.self),
                             p.load(fromByteOffset: offset + 3, as: UInt8.self))
            offset += 4
        }
        let header = FrameHeader(fin: b0 & 0x80 != 0, reservedBits: b0 & 0x70,
                                 opcode: WebSocketOpcode(rawValue: b0 & 0x0F),
                                 maskingKey: key, payloadLength: length)
        return .header(header, headerLength: offset)
    }

    /// Parses a header at the reader index of `buffer` without consuming it.
    @inlinable
    package static func parse(_ buffer: ByteBuffer) -> ParseResult {
        buffer.withUnsafeReadableBytes { parse($0) }
    }

    /// Appends the header's wire form to `buffer`.
    @inlinable
    package func write(into buffer: inout ByteBuffer) {
        let length = encodedLength
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { store(to: $0.baseAddress!) }
    }

    /// Stores the header's wire form at `destination`, which has room for `encodedLength` bytes, and returns
    /// that length. Lets `FrameWriter` put header and payload into the buffer in one write.
    @inlinable
    package func store(to destination: UnsafeMutableRawPointer) -> Int {
        let b0 = (fin ? 0x80 : 0) | (reservedBits & 0x70) | opcode.rawValue
        let maskBit: UInt8 = maskingKey == nil ? 0 : 0x80
        destination.storeBytes(of: b0, as: UInt8.self)
        var offset: Int
        if payloadLength < 126 {
            destination.storeBytes(of: maskBit | UInt8(payloadLength), toByteOffset: 1, as: UInt8.self)
            offset = 2
        } else if payloadLength <= 0xFFFF {
            destination.storeBytes(of: maskBit | 126, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt16(payloadLength).bigEndian, toByteOffset: 2, as: UInt16.self)
            offset = 4
        } else {
            destination.storeBytes(of: maskBit | 127, toByteOffset: 1, as: UInt8.self)
            destination.storeBytes(of: UInt64(payloadLength).bigEndian, toByteOffset: 2, as: UInt64.self)
            offset = 10
        }
        if let key = maskingKey {
            destination.storeBytes(of: key.b0, toByteOffset: offset, as: UInt8.self)
            destination.storeBytes(of: key.b1, toByteOffset: offset + 1, as: UInt8.self)
            destination.storeBytes(of: key.b2, toByteOffset: offset + 2, as: UInt8.self)
            destination.storeBytes(of: key.b3, toByteOffset: offset + 3, as: UInt8.self)
            offset += 4
        }
        return offset
    }
}
