import Foundation
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// Turns stdin lines into messages and what arrives into printed lines, for each `ConnectSettings` mode. Pure:
/// the caller supplies the time a line is stamped with.
package enum ConnectFormat {
    /// Why a line could not be sent: said on stderr, the line skipped, the session carries on.
    package struct BadLine: Error, Equatable, CustomStringConvertible {
        package let description: String
    }

    /// The message a stdin line stands for.
    package static func message(from line: String, input: ConnectSettings.Input) throws(BadLine) -> WebSocketMessage {
        switch input {
        case .text:
            return .text(line)
        case .binary:
            return .binary(ByteBuffer(string: line))
        case .hex:
            guard let bytes = hexBytes(line) else { throw BadLine(description: "not hex digits: \(line)") }
            return .binary(ByteBuffer(bytes: bytes))
        case .base64:
            guard let bytes = Base64.decode(line.trimmingCharacters(in: .whitespaces)) else {
                throw BadLine(description: "not base64: \(line)")
            }
            return .binary(ByteBuffer(bytes: bytes))
        }
    }

    /// Hex digits, two per byte, spaces and colons between them allowed; nil for anything else.
    package static func hexBytes(_ text: String) -> [UInt8]? {
        let digits = text.unicodeScalars.filter { $0 != " " && $0 != ":" && $0 != "\t" }
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        var high: UInt8?
        for scalar in digits {
            guard let value = UInt8(String(scalar), radix: 16) else { return nil }
            if let h = high {
                bytes.append(h << 4 | value)
                high = nil
            } else {
                high = value
            }
        }
        return bytes
    }

    package static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef")
        var out = ""
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return out
    }

    /// The line printed for a received message.
    package static func line(for message: WebSocketMessage, output: ConnectSettings.Output, time: String?) -> String {
        let bytes = message.data.readableBytesView
        let body: String
        switch (output, message.kind) {
        case (.json, _):
            var object: [String: Any] = ["type": message.kind == .text ? "text" : "binary", "size": bytes.count]
            if let time { object["time"] = time }
            if message.kind == .text { object["text"] = message.text } else { object["base64"] = Base64.encode(bytes) }
            return json(object)
        case (_, .text):
            body = message.text
        case (.plain, .binary):
            body = "[binary \(bytes.count) bytes] " + hex(bytes)
        case (.hex, .binary):
            body = hex(bytes)
        case (.base64, .binary):
            body = Base64.encode(bytes)
        }
        return stamped(body, time: time)
    }

    /// The line printed for a pong (`--show-ping`); `roundTrip` when it answered a ping of ours.
    package static func line(forPong payload: ByteBuffer, roundTrip: Duration?, output: ConnectSettings.Output,
                             time: String?) -> String {
        let milliseconds = roundTrip.map { Double($0.components.seconds) * 1000 + Double($0.components.attoseconds) / 1e15 }
        if output == .json {
            var object: [String: Any] = ["type": "pong", "size": payload.readableBytes]
            if let time { object["time"] = time }
            if let milliseconds { object["rtt_ms"] = (milliseconds * 1000).rounded() / 1000 }
            return json(object)
        }
        let rtt = milliseconds.map { String(format: ", round trip %.3f ms", $0) } ?? " (not an answer to a ping of ours)"
        return stamped("pong: \(payload.readableBytes) bytes\(rtt)", time: time)
    }

    /// The line printed, with `--json`, once the connection is closed.
    package static func closeLine(_ info: WebSocketCloseInfo, time: String?) -> String {
        var object: [String: Any] = ["type": "close", "code": Int(info.code), "reason": info.reason, "clean": info.wasClean]
        if let time { object["time"] = time }
        return json(object)
    }

    /// The time a printed line carries (`--timestamps`, `--json`): ISO 8601 in UTC, with milliseconds.
    package static func timestamp(_ date: Date = Date()) -> String {
        date.formatted(Date.ISO8601FormatStyle(includingFractionalSeconds: true))
    }

    private static func stamped(_ body: String, time: String?) -> String {
        time.map { "\($0) \(body)" } ?? body
    }

    private static func json(_ object: [String: Any]) -> String {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
