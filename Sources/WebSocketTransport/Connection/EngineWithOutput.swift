import NIOCore
import WebSocketEngine

/// A wire's engine together with the buffer its frames are written into, as the channel handler holds them.
///
/// One stored property rather than two on purpose: every engine call takes the engine and the output buffer
/// `inout`, and each stored property of a class passed `inout` is an access the runtime checks for exclusivity.
/// Held together, a frame read or written costs one check instead of two — on the echo path, per frame.
struct EngineWithOutput<Engine: WebSocketWireEngine> {
    var engine: Engine
    /// Frames written and not yet handed to the channel (the engine's own replies included).
    var output = ByteBuffer()

    init(_ engine: Engine) { self.engine = engine }

    @inline(__always)
    mutating func read(from input: inout ByteBuffer) -> WebSocketWireEvent? {
        engine.read(from: &input, output: &output)
    }

    @inline(__always)
    mutating func writeMessage(_ opcode: WebSocketOpcode, payload: ByteBuffer) -> WebSocketWriteResult {
        engine.writeMessage(opcode, payload: payload, into: &output)
    }

    /// The header alone (see `WebSocketWireEngine.writeUnmaskedHeader`); false when the payload must be copied
    /// or nothing may be sent.
    @inline(__always)
    mutating func writeUnmaskedHeader(_ opcode: WebSocketOpcode, payloadLength: Int) -> Bool {
        engine.writeUnmaskedHeader(opcode, payloadLength: payloadLength, into: &output)
    }

    @inline(__always)
    mutating func writePing(_ payload: ByteBuffer) -> WebSocketWriteResult {
        engine.writePing(payload, into: &output)
    }

    @inline(__always)
    mutating func writeClose(_ frame: CloseFrame) -> WebSocketWriteResult {
        engine.writeClose(frame, into: &output)
    }

    /// A quiet connection's engine rests its compression (and buffers); an empty output buffer goes with it.
    mutating func rest() {
        guard engine.restCompression() else { return }
        if output.readableBytes == 0 { output = ByteBuffer() }
    }
}
