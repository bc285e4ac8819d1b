/// What `wsgate connect` was asked to do, beyond where to connect: how stdin lines become messages, how received
/// messages are printed, and when the session ends. Decided once from the flags; read by `ConnectSession`.
package struct ConnectSettings: Sendable, Equatable {
    /// How a stdin line becomes a message.
    package enum Input: Sendable, Equatable {
        /// The line as a text message (the default).
        case text
        /// The line's bytes as a binary message (`--binary`).
        case binary
        /// The line read as hex digits (spaces allowed), sent as a binary message (`--hex`).
        case hex
        /// The line read as base64, sent as a binary message (`--base64`).
        case base64
    }

    /// How a received message is printed.
    package enum Output: Sendable, Equatable {
        /// Text as its line; binary as `[binary N bytes] HEX` (the format `wsgate connect` always had).
        case plain
        /// Binary as hex digits alone (`--hex`).
        case hex
        /// Binary as base64 alone (`--base64`).
        case base64
        /// One JSON object per message, pong and close (`--json`).
        case json
    }

    package var input: Input = .text
    package var output: Output = .plain
    /// Prefix printed lines with the time they were received (`--timestamps`).
    package var timestamps = false
    /// Send the first line, print the first message received, close (`-1/--once`).
    package var once = false
    /// After stdin ends: close once this long passed with no message received (`--linger S`).
    package var linger: Duration = .seconds(1)
    /// After stdin ends: keep reading until the server closes (`--no-close`).
    package var noClose = false
    /// Close after this many messages were received (`--max-messages N`).
    package var maxMessages: Int?
    /// Send a ping this often (`--ping-interval S`).
    package var pingInterval: Duration?
    /// A ping unanswered this long ends the connection as dead (`--ping-timeout S`).
    package var pingTimeout: Duration = .seconds(10)
    /// Print each pong and its round trip (`--show-ping`).
    package var showPing = false
    /// Connect again when the connection is lost (`--reconnect`), waiting `reconnectInitialDelay`, doubling up to
    /// `reconnectMaxDelay`.
    package var reconnect = false
    package var reconnectInitialDelay: Duration = .milliseconds(500)
    package var reconnectMaxDelay: Duration = .seconds(30)
    /// Lines starting with `/` are commands (`/ping`, `/close`, `/binary`): stdin is a terminal.
    package var slashCommands = false

    package init() {}
}
