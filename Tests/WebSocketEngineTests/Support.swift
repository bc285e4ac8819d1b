import NIOCore
@testable import WebSocketEngine

/// Feeds `chunks` to `connection` (any wire's engine) one read at a time and collects every action and output byte.
func drive<E: WebSocketWireEngine>(_ connection: inout E, _ chunks: [[UInt8]]) -> (actions: [WebSocketWireEvent], output: [UInt8]) {
    var actions: [WebSocketWireEvent] = []
    var output = ByteBuffer()
    for chunk in chunks {
        var input = ByteBuffer(bytes: chunk)
        while let action = connection.read(from: &input, output: &output) {
            // Copy payloads out: the engine reuses its assembly buffer.
            switch action {
            case .message(let op, let data): actions.append(.message(op, ByteBuffer(bytes: Array(data.readableBytesView))))
            default: actions.append(action)
            }
        }
        precondition(input.readableBytes == 0, "the engine must drain its input")
    }
    return (actions, Array(output.readableBytesView))
}

func drive<E: WebSocketWireEngine>(_ connection: inout E, _ bytes: [UInt8]) -> (actions: [WebSocketWireEvent], output: [UInt8]) {
    drive(&connection, [bytes])
}

/// A frame as a client would send it (masked with `key`).
func maskedFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0,
                 key: MaskingKey = MaskingKey(0x37, 0xfa, 0x21, 0x3d)) -> [UInt8] {
    var out = ByteBuffer()
    FrameWriter.write(opcode: opcode, fin: fin, reservedBits: rsv, payload: ByteBuffer(bytes: payload), maskingKey: key, into: &out)
    return Array(out.readableBytesView)
}

func unmaskedFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], fin: Bool = true) -> [UInt8] {
    var out = ByteBuffer()
    FrameWriter.write(opcode: opcode, fin: fin, payload: ByteBuffer(bytes: payload), maskingKey: nil, into: &out)
    return Array(out.readableBytesView)
}

func text(_ s: String) -> WebSocketWireEvent { .message(.text, ByteBuffer(string: s)) }
func binary(_ b: [UInt8]) -> WebSocketWireEvent { .message(.binary, ByteBuffer(bytes: b)) }

func hexBytes(_ s: String) -> [UInt8] {
    s.split(separator: " ").map { UInt8($0, radix: 16)! }
}

/// Decodes unmasked frames from `bytes` (what a server wrote) into (opcode, fin, payload).
func decodeServerFrames(_ bytes: [UInt8]) -> [(WebSocketOpcode, Bool, [UInt8])] {
    var buffer = ByteBuffer(bytes: bytes)
    var frames: [(WebSocketOpcode, Bool, [UInt8])] = []
    while buffer.readableBytes > 0 {
        guard case .header(let h, let len) = FrameHeader.parse(buffer) else { fatalError("bad frame in output") }
        buffer.moveReaderIndex(forwardBy: len)
        var payload = Array(buffer.readBytes(length: h.payloadLength)!)
        if let key = h.maskingKey { payload.withUnsafeMutableBytes { _ = Masking.apply(key: key, to: $0) } }
        frames.append((h.opcode, h.fin, payload))
    }
    return frames
}

func closeCode(of frame: [UInt8]) -> UInt16? {
    frame.count >= 2 ? UInt16(frame[0]) << 8 | UInt16(frame[1]) : nil
}
