import NIOCore
import Subprocess
import WebSocketAPI
import WebSocketEngine

/// The program's stdout as messages: a line each in text mode (a line that is not UTF-8 as a binary message, which
/// a text frame could not carry), a read each in binary mode. Each message is sent only once the one before it was
/// written to the socket: that wait is the backpressure that stops reading the pipe for a client that does not read.
enum ExecOutput {
    static func forward(_ output: SubprocessOutputSequence, to connection: any WebSocketConnection,
                        settings: ExecService.Settings) async -> ExecOutcome {
        var line: [UInt8] = []
        do {
            for try await buffer in output {
                let bytes = buffer.withUnsafeBytes { Array($0) }
                if settings.binary {
                    for start in stride(from: 0, to: bytes.count, by: settings.maxMessageSize) {
                        let piece = bytes[start..<min(bytes.count, start + settings.maxMessageSize)]
                        guard await send(.binary(ByteBuffer(bytes: piece)), on: connection) else { return .finished }
                    }
                    continue
                }
                var from = 0
                while let newline = bytes[from...].firstIndex(of: 0x0A) {
                    line.append(contentsOf: bytes[from..<newline])
                    from = newline + 1
                    guard line.count <= settings.maxMessageSize else { return .tooLong }
                    guard await send(message(for: line), on: connection) else { return .finished }
                    line.removeAll(keepingCapacity: true)
                }
                line.append(contentsOf: bytes[from...])
                if line.count > settings.maxMessageSize { return .tooLong }
            }
        } catch {
            return .finished
        }
        // A last line without its newline is still a line.
        if !line.isEmpty, !settings.binary { _ = await send(message(for: line), on: connection) }
        return .finished
    }

    /// A line as a text message, or binary when it is not UTF-8 (a trailing CR, as CRLF ends lines, is dropped).
    static func message(for line: [UInt8]) -> WebSocketMessage {
        let body = line.last == 0x0D ? Array(line.dropLast()) : line
        if let text = String(validating: body, as: UTF8.self) { return .text(text) }
        return .binary(ByteBuffer(bytes: body))
    }

    /// Sends and waits until it was written to the socket; false once the connection is gone.
    private static func send(_ message: WebSocketMessage, on connection: any WebSocketConnection) async -> Bool {
        let promise = connection.eventLoop.makePromise(of: Void.self)
        connection.send(message, promise: promise)
        do {
            try await promise.futureResult.get()
            return true
        } catch {
            return false
        }
    }
}
