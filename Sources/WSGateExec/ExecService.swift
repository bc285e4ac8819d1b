import Logging
import NIOConcurrencyHelpers
import WebSocketAPI
import WebSocketEngine

/// Puts a program behind a WebSocket, as websocketd does: each connection runs the program once, every message
/// the client sends is a line on its stdin, every line it prints is a message, stderr goes to the log, and the
/// connection ends with the program (its exit status as the close code) or the program with the connection (TERM,
/// then KILL after `killGrace`). At most `maxProcesses` run at once; a handshake past that is answered 503.
public struct ExecService: WebSocketService {
    public struct Settings: Sendable, Hashable {
        /// The program and its arguments (no shell: `["/bin/sh", "-c", "…"]` for one).
        public var command: [String]
        /// Programs running at once; a client past the bound is answered `503 Service Unavailable`.
        public var maxProcesses: Int
        /// Binary mode: stdin and stdout are byte streams, each read of stdout a binary message. Text mode (the
        /// default): a message is a line (without its newline); a line that is not UTF-8 goes out as binary.
        public var binary: Bool
        /// After the connection ends: how long the program has between TERM and KILL.
        public var killGrace: Duration
        /// The longest line (text mode) or read (binary mode) a program may send: past it, 1009.
        public var maxMessageSize: Int

        public init(command: [String], maxProcesses: Int = 100, binary: Bool = false, killGrace: Duration = .seconds(2),
                    maxMessageSize: Int = 16 << 20) {
            self.command = command
            self.maxProcesses = maxProcesses
            self.binary = binary
            self.killGrace = killGrace
            self.maxMessageSize = maxMessageSize
        }
    }

    public let settings: Settings
    /// The path the service is mounted on: `SCRIPT_NAME`, the rest of the request path `PATH_INFO`.
    public let mountPath: String
    let running: Counter
    let logger: Logger

    public init(settings: Settings, mountPath: String, logger: Logger = Logger(label: "wsgate.exec")) {
        self.settings = settings
        self.mountPath = mountPath
        self.running = Counter()
        self.logger = logger
    }

    public func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
        running.current < settings.maxProcesses
            ? .accept(subprotocol: nil)
            : .reject(.serviceUnavailable("\(settings.maxProcesses) programs are running, the most this service runs at once"))
    }

    public func makeHandler() -> any WebSocketHandler {
        ExecHandler(service: self)
    }

    /// Programs running, and a number for each connection (`UNIQUE_ID`).
    final class Counter: Sendable {
        private let state = NIOLockedValueBox((running: 0, started: UInt64(0)))

        var current: Int { state.withLockedValue { $0.running } }

        /// Takes a slot, if one is free under `limit`; returns the connection's number.
        func acquire(limit: Int) -> UInt64? {
            state.withLockedValue { state in
                guard state.running < limit else { return nil }
                state.running += 1
                state.started += 1
                return state.started
            }
        }

        func release() { state.withLockedValue { $0.running -= 1 } }
    }
}
