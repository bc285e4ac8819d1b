import NIOCore

/// Serialises whole frames. Server frames are written as header + payload; client frames are masked while
/// being copied, so the caller's payload is never modified. `package`: the engines, the transport's shared
/// encodings and the benchmarks write frames with it; other packages send through `RFC6455Connection`.
package enum FrameWriter {
    /// Appends one frame carrying `payload`'s readable bytes to `out`: header and payload in one write into
    /// `out`'s storage (one capacity check, one writer-index move), the payload masked while it is copied.
    @inlinable
    package static func write(
        opcode: WebSocketOpcode, fin: Bool = true, reservedBits: UInt8 = 0,
        payload: ByteBuffer, maskingKey: MaskingKey?, into out: inout ByteBuffer
    ) {
        let length = payload.readableBytes
        let header = FrameHeader(fin: fin, reservedBits: reservedBits, opcode: opcode,
                                 maskingKey: maskingKey, payloadLength: length)
        out.writeWithUnsafeMutableBytes(minimumWritableBytes: header.encodedLength + length) { dst in
            let headerLength = header.store(to: dst.baseAddress!)
            guard length > 0 else { return headerLength }
            payload.withUnsafeReadableBytes { src in
                let body = dst.baseAddress! + headerLength
                if let key = maskingKey {
                    _ = Masking.apply(key: key, phase: 0, from: src.baseAddress!, to: body, count: length)
                } else {
                    body.copyMemory(from: src.baseAddress!, byteCount: length)
                }
            }
            return headerLength + length
        }
    }

    /// Appends one frame whose payload is given as bytes (used for control frames).
    @inlinable
    package static func write<Bytes: Collection>(
        opcode: WebSocketOpcode, fin: Bool = true, bytes: Bytes, maskingKey: MaskingKey?, into out: inout ByteBuffer
    ) where Bytes.Element == UInt8 {
        var payload = ByteBuffer()
        payload.writeBytes(bytes)
        write(opcode: opcode, fin: fin, payload: payload, maskingKey: maskingKey, into: &out)
    }
}
