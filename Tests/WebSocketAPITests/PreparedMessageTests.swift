import NIOCore
import Testing
import WebSocketAPI

/// `PreparedMessage`: one encoding per wire format, whoever asks and however often.
@Suite struct PreparedMessageTests {
    @Test func encodesOncePerKeyAndSharesTheBytes() {
        let prepared = PreparedMessage(.text("hi"))
        var encodings: [String] = []
        func encode(_ key: String) -> ByteBuffer {
            prepared.encoded(for: key) { message in
                encodings.append(key)
                return ByteBuffer(string: "\(key):\(message.text)")
            }
        }
        let first = encode("rfc6455-server")
        let again = encode("rfc6455-server")
        let hixie = encode("hixie")
        #expect(encodings == ["rfc6455-server", "hixie"])
        #expect(first == again && String(buffer: first) == "rfc6455-server:hi")
        #expect(String(buffer: hixie) == "hixie:hi")
        #expect(prepared.message == .text("hi"))
    }
}
