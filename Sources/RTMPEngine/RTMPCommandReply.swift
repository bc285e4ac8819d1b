import NIOCore

/// Replies to RTMP commands (AMF0 command messages on chunk stream 3, message stream 0), shared by the WSR session
/// before it opens and the open connection after.
enum RTMPCommandReply {
    /// `_result` or `_error` with its values, appended as one message.
    static func write(_ values: [AMFValue], with writer: RTMPChunkWriter, into out: inout ByteBuffer) {
        var body = ByteBuffer()
        AMFEncoder.encode(values, into: &body)
        writer.write(RTMPMessage(chunkStreamID: 3, typeID: RTMPMessage.amf0Command, payload: body), into: &out)
    }

    /// The `_error` for a call WSR does not use (as RTMP servers answer calls they do not know).
    static func callFailed(_ command: String, txid: Double) -> [AMFValue] {
        [.string("_error"), .number(txid), .null, .object([
            ("level", .string("error")), ("code", .string("NetConnection.Call.Failed")),
            ("description", .string("\(printable(command)) is not supported by this WSR endpoint")),
        ])]
    }

    /// `text` fit for a log line and an `_error` description: control characters escaped (a tcUrl with a newline
    /// must not forge a log line), at most 200 characters.
    static func printable(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars.prefix(200) {
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80..<0xA0).contains(scalar.value) {
                out += "\\u{\(String(scalar.value, radix: 16))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return text.unicodeScalars.count > 200 ? out + "…" : out
    }
}
