import NIOConcurrencyHelpers
import NIOCore
import WebSocketAPI
import WebSocketEngine

/// A `WebSocketConnection` with no socket behind it: it records what a service does to it (sends, pings,
/// closes, read pauses, drains) so services and `AsyncWebSocket` can be tested by calling their handler the way a
/// transport would, and reading back what they asked for.
///
/// It answers every send's promise at once (the "socket" takes everything) and never closes by itself: a
/// `close` is only recorded, and a test ends the connection by calling the handler's `connectionDidClose`, as
/// the transport would once the close handshake is over.
package final class RecordingConnection: WebSocketConnection {
    /// What a service handed the connection to send, in order.
    package enum Sent: Sendable {
        case message(WebSocketMessage)
        /// The very `PreparedMessage` object the service passed, so a test can check it is shared.
        case prepared(PreparedMessage)
        case ping(ByteBuffer)

        /// The message sent, whichever way it was handed over (nil for a ping).
        package var message: WebSocketMessage? {
            switch self {
            case .message(let message): return message
            case .prepared(let prepared): return prepared.message
            case .ping: return nil
            }
        }

        package var prepared: PreparedMessage? {
            if case .prepared(let prepared) = self { return prepared }
            return nil
        }
    }

    /// A close the service asked for.
    package struct Close: Sendable, Equatable {
        package var code: CloseCode
        package var reason: String

        package init(code: CloseCode, reason: String) {
            self.code = code
            self.reason = reason
        }
    }

    private struct Record {
        var sent: [Sent] = []
        var closes: [Close] = []
        var readPauses: [Bool] = []
        var drains = 0
        var isWritable = true
    }

    package let request: WebSocketRequest
    package let eventLoop: any EventLoop
    private let record = NIOLockedValueBox(Record())

    package init(eventLoop: any EventLoop, request: WebSocketRequest = WebSocketRequest(path: "/test", wire: .rfc6455)) {
        self.eventLoop = eventLoop
        self.request = request
    }

    package var sent: [Sent] { record.withLockedValue { $0.sent } }
    /// The messages sent, prepared ones unwrapped.
    package var sentMessages: [WebSocketMessage] { sent.compactMap(\.message) }
    package var closes: [Close] { record.withLockedValue { $0.closes } }
    /// Every `setReadingPaused` call's argument, in order.
    package var readPauses: [Bool] { record.withLockedValue { $0.readPauses } }
    /// How many times the handler said it finished every delivered message.
    package var drains: Int { record.withLockedValue { $0.drains } }

    package var isWritable: Bool {
        get { record.withLockedValue { $0.isWritable } }
        set { record.withLockedValue { $0.isWritable = newValue } }
    }

    package func send(_ message: WebSocketMessage, promise: EventLoopPromise<Void>?) {
        record.withLockedValue { $0.sent.append(.message(message)) }
        promise?.succeed()
    }

    package func send(_ message: PreparedMessage, promise: EventLoopPromise<Void>?) {
        record.withLockedValue { $0.sent.append(.prepared(message)) }
        promise?.succeed()
    }

    package func ping(_ payload: ByteBuffer) {
        record.withLockedValue { $0.sent.append(.ping(payload)) }
    }

    package func close(code: CloseCode, reason: String) {
        record.withLockedValue { $0.closes.append(Close(code: code, reason: reason)) }
    }

    package func setReadingPaused(_ paused: Bool) {
        record.withLockedValue { $0.readPauses.append(paused) }
    }

    package func inboundDidDrain() {
        record.withLockedValue { $0.drains += 1 }
    }
}
