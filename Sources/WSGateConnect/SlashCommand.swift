import NIOCore
import WebSocketEngine

/// What a line typed at a terminal asks for: lines that start with `/` are commands, as in wscat.
package enum SlashCommand: Equatable {
    /// `/ping [data]`: a ping carrying `data` (at most 125 bytes, RFC 6455 §5.5).
    case ping(ByteBuffer)
    /// `/close [code] [reason]`: start the close handshake.
    case close(CloseCode, reason: String)
    /// `/binary HEX`: a binary message of those bytes.
    case binary(ByteBuffer)
    /// Not a command: the line as typed (`//x` stands for the line `/x`).
    case line(String)

    package struct Bad: Error, Equatable, CustomStringConvertible {
        package let description: String
    }

    static let help = "commands: /ping [data], /close [code] [reason], /binary HEX; // starts a line with /"

    package static func parse(_ line: String) throws(Bad) -> SlashCommand {
        guard line.hasPrefix("/") else { return .line(line) }
        if line.hasPrefix("//") { return .line(String(line.dropFirst())) }
        let words = line.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        let rest = words.count > 1 ? String(words[1]) : ""
        switch words.first ?? "" {
        case "/ping":
            guard rest.utf8.count <= 125 else { throw Bad(description: "a ping carries at most 125 bytes") }
            return .ping(ByteBuffer(string: rest))
        case "/close":
            let parts = rest.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
            guard let first = parts.first else { return .close(.normalClosure, reason: "") }
            guard let raw = UInt16(first), CloseCode(raw).isValidOnWire else {
                throw Bad(description: "not a close code one may send: \(first) (1000–1003, 1007–1014, 3000–4999)")
            }
            let reason = parts.count > 1 ? String(parts[1]) : ""
            guard reason.utf8.count <= 123 else { throw Bad(description: "a close reason is at most 123 bytes") }
            return .close(CloseCode(raw), reason: reason)
        case "/binary":
            guard let bytes = ConnectFormat.hexBytes(rest) else { throw Bad(description: "/binary takes hex digits: \(rest)") }
            return .binary(ByteBuffer(bytes: bytes))
        default:
            throw Bad(description: "unknown command \(words.first ?? ""); \(help)")
        }
    }
}
