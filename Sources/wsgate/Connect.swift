import ArgumentParser
import NIOCore
import WSGateAuth
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

#if canImport(Glibc)
import Glibc
#endif

/// `wsgate connect`: an interactive client, like wscat / websocat.
struct Connect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Open a WebSocket: each stdin line is sent as a text message; each message received is printed on its own line.")

    @Argument(help: "URL to connect to: ws:// or wss://; wsr:// or wsr+ssl:// for WebSocket over RTMP (an HTTP create, then RTMP); rtmp:// or rtmps://host[:port]/app/stream to publish to an RTMP server (each line goes up as a WSR data message).") var url: String
    @Option(name: .customLong("subprotocol"), help: "Subprotocol to offer (repeatable, in order of preference).")
    var subprotocols: [String] = []
    @Option(name: .customLong("header"), help: "Extra request header, \"Name: value\" (repeatable).")
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

    func validate() throws {
        guard ["13", "75", "76"].contains(draft) else { throw ValidationError("--draft must be 13, 76 or 75") }
        _ = try Self.placement(tokenIn)
        if token != nil, tokenFile != nil { throw ValidationError("--token and --token-file: give one") }
        if (cert == nil) != (key == nil) { throw ValidationError("--cert and --key go together") }
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

    func run() async throws {
        var configuration = WebSocketClientConfiguration(origin: origin)
        if noCompression { configuration.compression = nil }
        configuration.tls = ClientTLS(caFile: caFile, insecure: insecure, certificateFile: cert, privateKeyFile: key)
        if let proxy { configuration.proxy = .proxy(try HTTPProxy(url: proxy)) }
        configuration.subprotocols = subprotocols
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
        let ws = try await WebSocketClient.connect(to: url, configuration: configuration, logger: makeLogger(level: logLevel))
        if let p = ws.subprotocol { printError("connected (subprotocol \(p))") }
        if let deflate = ws.request.compression { printError("connected (permessage-deflate: \(deflate))") }
        if ws.request.wire != .rfc6455 { printError("connected (\(ws.request.wire.rawValue))") }

        let printer = Task {
            for await message in ws.messages {
                switch message.kind {
                case .text: writeLine(message.text, to: 1)
                case .binary: writeLine("[binary \(message.data.readableBytes) bytes] " + message.data.readableBytesView.map { hex($0) }.joined(), to: 1)
                }
            }
        }
        // stdin is read on its own thread: readLine blocks.
        let lines = AsyncStream<String> { continuation in
            Thread.detach {
                while let line = readLine(strippingNewline: true) { continuation.yield(line) }
                continuation.finish()
            }
        }
        for await line in lines {
            do { try await ws.send(text: line) } catch { break }
        }
        let info = await ws.close()
        await printer.value
        if !info.wasClean || (info.code != 1000 && info.code != 1005) {
            printError("closed: \(info)")
            throw ExitCode(1)
        }
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
        final class Box: @unchecked Sendable { let body: () -> Void; init(_ b: @escaping () -> Void) { body = b } }
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
