import NIOCore

/// Serialises whole frames. Server frames are written as header + payload; client frames are masked while
/// being copied, so the caller's payload is never modified. `package`: the engines, the transport's shared
/// encodings and the benchmarks write frames with it; other packages send through `RFC6455Connection`.
package enum FrameWriter {
    /// Appends one frame carrying `payload`'s readable bytes to `out`.
    @inlinable
    package static func write(
        opcode: WebSocketOpcode, fin: Bool = true, reservedBits: UInt8 = 0,
        payload: ByteBuffer, maskingKey: MaskingKey?, into out: inout ByteBuffer
    ) {
        let length = payload.readableBytes
        let header = FrameHeader(fin: fin, reservedBits: reservedBits, opcode: opcode,
                                 maskingKey: maskingKey, payloadLength: length)
        out.reserveCapacity(minimumWritableBytes: header.encodedLength + length)
        header.write(into: &out)
        guard length > 0 else { return }
        if let key = maskingKey {
            out.writeWithUnsafeMutableBytes(minimumWritableBytes: length) { dst in
                _ = payload.withUnsafeReadableBytes { src in
                    Masking.apply(key: key, phase: 0, from: src.baseAddress!, to: dst.baseAddress!, count: length)
                }
                return length
            }
        } else {
            var payload = payload
            out.writeBuffer(&payload)
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
