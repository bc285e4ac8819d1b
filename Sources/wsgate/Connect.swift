import ArgumentParser
import NIOCore
import WSGateAuth
import WSGateConnect
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

#if canImport(Glibc)
import Glibc
#endif

/// `wsgate connect`: an interactive client, like wscat / websocat. The session's decisions (what to send, when to
/// ping, close, connect again, which exit status) are `ConnectSession`'s; this command carries them out.
struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open a WebSocket: each stdin line is sent as a message; each message received is printed on its own line.",
        discussion: """
        Exit status: 0 closed cleanly (1000, or no code), 1 closed otherwise (another code, no close handshake, a \
        ping unanswered), 2 the server refused the handshake (its HTTP status and body are printed), 3 no connection \
        could be made, 64 bad arguments.
        """)

    @Argument(help: "URL to connect to: ws:// or wss://; wsr:// or wsr+ssl:// for WebSocket over RTMP (an HTTP create, then RTMP); rtmp:// or rtmps://host[:port]/app/stream to publish to an RTMP server (each line goes up as a WSR data message).") var url: String
    @Option(name: .customLong("subprotocol"), help: "Subprotocol to offer (repeatable, in order of preference).")
    var subprotocols: [String] = []
    @Option(name: [.customShort("H"), .customLong("header")], help: "Extra request header, \"Name: value\" (repeatable).")
    var headers: [String] = []
    @Option(help: "Origin header to send.") var origin: String?
    @Option(help: "Bearer token for a service with access control (a JWT or an API key); see --token-in.") var token: String?
    @Option(help: ArgumentHelp("Where --token goes: header (Authorization: Bearer, the default), query[=NAME], cookie[=NAME] (NAME: access_token) or subprotocol (base64url.bearer.authorization.k8s.io.…).",
                               valueName: "PLACE"))
    var tokenIn = "header"
    @Option(help: ArgumentHelp("Read the bearer token from this file (whitespace at the end trimmed) instead of --token.", valueName: "FILE"))
    var tokenFile: String?
    @Option(help: "Log level.") var logLevel = "warning"
    @Flag(help: "Do not offer permessage-deflate (offered by default, as browsers do).") var noCompression = false
    @Option(help: "HTTP proxy, http://[user:password@]host:port (default: HTTPS_PROXY / HTTP_PROXY, minus NO_PROXY).")
    var proxy: String?
    @Option(help: "PEM file of CA certificates to trust for wss:// instead of the system's.") var caFile: String?
    @Flag(help: "Do not verify the wss:// server's certificate (testing only).") var insecure = false
    @Option(help: ArgumentHelp("PEM client certificate (chain, leaf first) to present to a wss:// server that asks for one (mtls).",
                               valueName: "PEM"))
    var cert: String?
    @Option(help: ArgumentHelp("PEM private key of --cert.", valueName: "PEM")) var key: String?
    @Option(help: "Protocol version: 13 (RFC 6455, the default), or 76 / 75 for the hixie drafts early browsers spoke (text only; --origin defaults to null).")
    var draft = "13"

    @Flag(help: "Send each stdin line as a binary message (its bytes, without the newline).") var binary = false
    @Flag(help: "Stdin lines are hex digits, sent as binary messages; binary messages received are printed as hex.") var hex = false
    @Flag(help: "Stdin lines are base64, sent as binary messages; binary messages received are printed as base64.") var base64 = false
    @Flag(help: "Print one JSON object per line for each message received (time, type, size, text or base64), pong (--show-ping) and, at the end, the close (code, reason, clean).")
    var json = false
    @Flag(help: "Prefix each printed line with the time it was received (ISO 8601, UTC).") var timestamps = false
    @Flag(name: [.customShort("1"), .customLong("once")], help: "Send the first stdin line, print the first message received, close.")
    var once = false
    @Option(help: ArgumentHelp("After stdin ends, close once this many seconds passed with no message received (default 1).", valueName: "S"))
    var linger: Double = 1
    @Flag(help: "After stdin ends, keep reading until the server closes.") var noClose = false
    @Option(help: ArgumentHelp("Close after this many messages were received.", valueName: "N")) var maxMessages: Int?
    @Option(help: ArgumentHelp("Send a ping every S seconds.", valueName: "S")) var pingInterval: Double?
    @Option(help: ArgumentHelp("A ping unanswered for S seconds ends the connection as dead (exit 1, or --reconnect); default 10.", valueName: "S"))
    var pingTimeout: Double = 10
    @Flag(help: "Print each pong with its round trip (stderr; stdout with --json).") var showPing = false
    @Flag(help: "When the connection is lost, connect again: after 0.5 s, doubling up to --reconnect-max-delay. A line already sent is not sent again; one read while disconnected is sent on the next connection.")
    var reconnect = false
    @Option(help: ArgumentHelp("The longest wait between reconnection attempts (default 30).", valueName: "S"))
    var reconnectMaxDelay: Double = 30
    @Option(help: ArgumentHelp("The largest message accepted from the server, in bytes (default 16 MiB; larger: closed with 1009).", valueName: "BYTES"))
    var maxMessageSize: Int?

    func validate() throws {
        guard ["13", "75", "76"].contains(draft) else { throw ValidationError("--draft must be 13, 76 or 75") }
        _ = try Self.placement(tokenIn)
        if token != nil, tokenFile != nil { throw ValidationError("--token and --token-file: give one") }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
        if [binary, hex, base64].filter({ $0 }).count > 1 { throw ValidationError("--binary, --hex and --base64: give one") }
        if once, noClose { throw ValidationError("--once and --no-close: give one") }
        if linger < 0 { throw ValidationError("--linger must be 0 or more seconds") }
        if let pingInterval, pingInterval <= 0 { throw ValidationError("--ping-interval must be more than 0 seconds") }
        if pingTimeout <= 0 { throw ValidationError("--ping-timeout must be more than 0 seconds") }
        if let maxMessages, maxMessages < 1 { throw ValidationError("--max-messages must be at least 1") }
        if let maxMessageSize, maxMessageSize < 1 { throw ValidationError("--max-message-size must be at least 1") }
        if reconnectMaxDelay <= 0 { throw ValidationError("--reconnect-max-delay must be more than 0 seconds") }
    }

    /// `header`, `query[=NAME]`, `cookie[=NAME]` or `subprotocol`.
    static func placement(_ text: String) throws -> ClientCredential.Placement {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        let name = parts.count > 1 ? parts[1] : "access_token"
        switch parts.first ?? "" {
        case "header" where parts.count == 1: return .header
        case "subprotocol" where parts.count == 1: return .subprotocol
        case "query" where !name.isEmpty: return .query(name)
        case "cookie" where !name.isEmpty: return .cookie(name)
        default: throw ValidationError("--token-in must be header, query[=NAME], cookie[=NAME] or subprotocol: \(text)")
        }
    }

    func clientConfiguration() throws -> WebSocketClientConfiguration {
        var configuration = WebSocketClientConfiguration(origin: origin)
        if noCompression { configuration.compression = nil }
        configuration.tls = ClientTLS(caFile: caFile, insecure: insecure, certificateFile: cert, privateKeyFile: key)
        if let proxy { configuration.proxy = .proxy(try HTTPProxy(url: proxy)) }
        configuration.subprotocols = subprotocols
        if let maxMessageSize { configuration.engine.maxMessageSize = maxMessageSize }
        if let tokenFile {
            guard let bytes = JWTKeySource.secret(fromFile: tokenFile) else {
                throw ValidationError("cannot read the token file \(tokenFile)")
            }
            configuration.credential = ClientCredential(token: String(decoding: bytes, as: UTF8.self),
                                                        placement: try Self.placement(tokenIn))
        } else if let token {
            configuration.credential = ClientCredential(token: token, placement: try Self.placement(tokenIn))
        }
        switch draft {
        case "75": configuration.draft = .hixie75
        case "76": configuration.draft = .hixie76
        default: break
        }
        for header in headers {
            guard let colon = header.firstIndex(of: ":") else { throw ValidationError("header must be \"Name: value\": \(header)") }
            configuration.headers.add(String(header[..<colon]),
                                      String(header[header.index(after: colon)...]).trimmingCharacters(in: " "))
        }
        return configuration
    }

    func sessionSettings() -> ConnectSettings {
        var settings = ConnectSettings()
        settings.input = binary ? .binary : hex ? .hex : base64 ? .base64 : .text
        settings.output = json ? .json : hex ? .hex : base64 ? .base64 : .plain
        settings.timestamps = timestamps
        settings.once = once
        settings.linger = .milliseconds(Int64(linger * 1000))
        settings.noClose = noClose
        settings.maxMessages = maxMessages
        settings.pingInterval = pingInterval.map { .milliseconds(Int64($0 * 1000)) }
        settings.pingTimeout = .milliseconds(Int64(pingTimeout * 1000))
        settings.showPing = showPing
        settings.reconnect = reconnect
        settings.reconnectMaxDelay = .milliseconds(Int64(reconnectMaxDelay * 1000))
        settings.slashCommands = StdinLines.isTerminal
        return settings
    }

    func run() async throws {
        let runner = ConnectRunner(url: url, configuration: try clientConfiguration(), settings: sessionSettings(),
                                   logger: makeLogger(level: logLevel))
        let status = await runner.run()
        if status != .clean { throw ExitCode(status.rawValue) }
    }
}

func hex(_ byte: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(byte >> 4)], digits[Int(byte & 0xF)]])
}

func printError(_ text: String) {
    writeLine(text, to: 2)
}

/// Writes a line straight to a file descriptor. Not through stdio: its `FILE` locks are shared with the
/// thread blocked in `readLine`, so a flush there would wait for the next line of input.
func writeLine(_ text: String, to fd: Int32) {
    var bytes = Array(text.utf8)
    bytes.append(0x0A)
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
        if written <= 0 { return }
        offset += written
    }
}

extension String {
    func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s.removeFirst() }
        while s.last == set { s.removeLast() }
        return String(s)
    }
}

/// A plain OS thread, for blocking reads that must not occupy the cooperative pool.
enum Thread {
    static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        var tid = pthread_t()
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        pthread_create(&tid, nil, { arg in
            let box = Unmanaged<AnyObject>.fromOpaque(arg!).takeRetainedValue() as! Box
            box.body()
            return nil
        }, box)
        pthread_detach(tid)
    }
}
