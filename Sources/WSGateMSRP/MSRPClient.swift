import MSRPEngine
import NIOCore
import NIOPosix
import WebSocketAPI
import WebSocketEngine
import WebSocketTransport

/// An MSRP endpoint (RFC 4975) that reaches the world through a relay: over a WebSocket (`ws://`/`wss://` URL,
/// subprotocol `msrp`, RFC 7977) or a TCP connection (`msrp://host:port;tcp`). It AUTHs to the relay (answering
/// a Digest challenge), sends messages in chunks to a To-Path, answers the SENDs it receives and hands over
/// whole messages (chunks reassembled by Message-ID) and REPORTs.
///
/// ```swift
/// let client = try await MSRPClient.connect(to: "ws://relay.example:8080/msrp")
/// let (usePath, _) = try await client.auth(user: "alice", password: "secret")
/// try await client.send(text: "hello", toPath: usePath + [bob])
/// for await message in client.incoming { print(message.body) }
/// ```
///
/// The same client drives `wsgate msrp` and `wsgate bench --mode msrp`; it is a library product (`WSGateMSRP`) so other
/// packages can talk MSRP through a relay without writing the protocol again.
public actor MSRPClient {
    /// A whole message (every chunk of its Message-ID, in order) or a REPORT that arrived.
    public struct Incoming: Sendable {
        /// `SEND` or `REPORT`.
        public var method: String
        /// The From-Path as received: the sender last, the relays it came through before it.
        public var fromPath: String
        public var contentType: String?
        /// The message's bytes, reassembled (empty for a REPORT).
        public var body: ByteBuffer
        /// `Status` of a REPORT (`000 200 OK`, `000 408 Request Timeout`, …).
        public var status: String?
    }

    /// Why a request failed.
    public enum ClientError: Error, CustomStringConvertible {
        /// The relay (or the first hop) answered with this code and comment.
        case refused(Int, String)
        /// The answer could not be used (a 200 to AUTH without Use-Path).
        case malformed(String)
        /// The connection closed before the answer came.
        case closed
        public var description: String {
            switch self {
            case .refused(let code, let comment): return "refused: \(code) \(comment)"
            case .malformed(let why): return "malformed answer: \(why)"
            case .closed: return "the connection closed"
            }
        }
    }

    /// This endpoint's URI (a random `.invalid` host and session id, RFC 7977 Appendix A.1).
    public nonisolated let localURI: MSRPURI
    /// The relay's URI for this leg (what AUTH is addressed to).
    public nonisolated let relayURI: MSRPURI
    /// Messages and REPORTs as they complete.
    public nonisolated let incoming: AsyncStream<Incoming>
    private let incomingContinuation: AsyncStream<Incoming>.Continuation
    private let sendChunk: @Sendable (MSRPChunk) async throws -> Void
    private let closeLeg: @Sendable () async -> Void
    private var waiting: [String: CheckedContinuation<MSRPHead, any Error>] = [:]
    private var partial: [String: ByteBuffer] = [:]
    private var generator = SystemRandomNumberGenerator()
    private var closed = false

    init(localURI: MSRPURI, relayURI: MSRPURI, send: @escaping @Sendable (MSRPChunk) async throws -> Void,
         close: @escaping @Sendable () async -> Void) {
        self.localURI = localURI
        self.relayURI = relayURI
        self.sendChunk = send
        self.closeLeg = close
        (incoming, incomingContinuation) = AsyncStream.makeStream()
    }

    /// Connects to a relay: `ws[s]://host:port/path` for its WebSocket leg (or `wsr[+ssl]://` to reach it over
    /// WebSocket over RTMP), `msrp://host:port;tcp` for its TCP leg. `configuration` applies to the WebSocket
    /// (its subprotocol is always `msrp`, and permessage-deflate is off: RFC 7977 does not use it).
    public static func connect(to url: String, configuration: WebSocketClientConfiguration = .init()) async throws -> MSRPClient {
        var generator = SystemRandomNumberGenerator()
        let host = MSRPHead.randomToken(length: 12, using: &generator).lowercased() + ".invalid"
        let session = MSRPHead.randomToken(length: 20, using: &generator)
        if url.hasPrefix("msrp://") || url.hasPrefix("msrps://") {
            let relay = try MSRPURI(parsing: url)
            let local = MSRPURI(secure: false, host: host, port: 2855, sessionID: session, transport: "tcp")
            return try await connectTCP(relay: relay, local: local)
        }
        // wsr:// (WebSocket over RTMP) reaches the same WebSocket leg: the relay sees a WebSocket with `msrp`.
        let ws = try WebSocketClient.webSocketURL(of: url)
        var config = configuration
        config.subprotocols = ["msrp"]
        config.compression = nil
        let socket = try await WebSocketClient.connect(to: url, configuration: config)
        let relay = MSRPURI(secure: ws.secure, host: ws.host, port: ws.port, transport: "ws")
        let local = MSRPURI(secure: ws.secure, host: host, port: 2855, sessionID: session, transport: "ws")
        let client = MSRPClient(localURI: local, relayURI: relay, send: { chunk in
            let bytes = chunk.serialized()
            let text = bytes.withUnsafeReadableBytes { UTF8Validator.isValid($0) }
            try await socket.send(WebSocketMessage(kind: text ? .text : .binary, data: bytes))
        }, close: { _ = await socket.close() })
        Task {
            for await message in socket.messages {
                var reader = MSRPChunkReader()
                var data = message.data
                if case .success(let chunk)? = reader.next(&data) { await client.received(chunk) }
            }
            await client.ended()
        }
        return client
    }

    private static func connectTCP(relay: MSRPURI, local: MSRPURI) async throws -> MSRPClient {
        let (chunks, continuation) = AsyncStream<MSRPChunk>.makeStream()
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ChunkStreamHandler(continuation: continuation))
                }
            }
            .connect(host: relay.host, port: relay.port ?? 2855).get()
        let client = MSRPClient(localURI: local, relayURI: relay, send: { chunk in
            try await channel.writeAndFlush(chunk.serialized())
        }, close: { try? await channel.close() })
        Task {
            for await chunk in chunks { await client.received(chunk) }
            await client.ended()
        }
        return client
    }

    // MARK: Requests

    /// AUTH to the relay (RFC 4976 §5); answers one Digest challenge when credentials are given. Returns the
    /// `Use-Path` and `Expires` of the 200.
    public func auth(user: String? = nil, password: String? = nil, expires: Int? = nil) async throws -> (usePath: [MSRPURI], expires: Int?) {
        var extra: [MSRPHead.Field] = expires.map { [.init("Expires", String($0))] } ?? []
        var answer = try await request("AUTH", toPath: [relayURI], extra: extra)
        if answer.statusCode == 401, let user, let password,
           let challenge = answer["WWW-Authenticate"].flatMap(Digest.parameters) {
            let cnonce = MSRPHead.randomToken(length: 16, using: &generator)
            if let credentials = Digest.credentials(user: user, password: password, challenge: challenge, method: "AUTH",
                                                    uri: relayURI.description, cnonce: cnonce) {
                extra.append(.init("Authorization", credentials))
                answer = try await request("AUTH", toPath: [relayURI], extra: extra)
            }
        }
        guard answer.statusCode == 200 else { throw ClientError.refused(answer.statusCode ?? 0, Self.comment(answer)) }
        guard let use = answer["Use-Path"], let path = try? MSRPURI.parsePath(use) else { throw ClientError.malformed("200 without Use-Path") }
        return (path, answer["Expires"].flatMap { Int($0) })
    }

    /// Sends a message to `toPath` (relay hops first, the recipient last) in chunks of at most `chunkSize` body
    /// bytes; returns when every chunk was accepted by the first hop (200), or throws its refusal.
    /// `failureReport` is the `Failure-Report` header (RFC 4975 §7.1.1): with `no` or `partial` no 200 comes, so
    /// chunks go out without waiting; failures then arrive as REPORTs on `incoming`.
    public func send(_ body: ByteBuffer, contentType: String = "text/plain", toPath: [MSRPURI], chunkSize: Int = 2048,
                     failureReport: String? = nil) async throws {
        let messageID = MSRPHead.randomToken(length: 12, using: &generator)
        var rest = body
        var start = 1
        let total = body.readableBytes
        repeat {
            let n = min(chunkSize, rest.readableBytes)
            let piece = rest.readSlice(length: n)!
            var extra: [MSRPHead.Field] = [.init("Message-ID", messageID),
                                           .init("Byte-Range", "\(start)-\(start + n - 1)/\(total)")]
            if let failureReport { extra.append(.init("Failure-Report", failureReport)) }
            extra.append(.init("Content-Type", contentType))
            let more = rest.readableBytes > 0
            if failureReport == "no" || failureReport == "partial" {
                try await sendChunk(MSRPChunk(head: head("SEND", toPath: toPath, extra: extra), body: piece,
                                              continuation: more ? .more : .complete))
            } else {
                let answer = try await request("SEND", toPath: toPath, extra: extra, body: piece, continuation: more ? .more : .complete)
                guard answer.statusCode == 200 else { throw ClientError.refused(answer.statusCode ?? 0, Self.comment(answer)) }
            }
            start += n
        } while rest.readableBytes > 0
    }

    /// Sends `text` as one `text/plain` message (see `send(_:contentType:toPath:chunkSize:failureReport:)`).
    public func send(text: String, toPath: [MSRPURI]) async throws {
        try await send(ByteBuffer(string: text), toPath: toPath)
    }

    /// Closes the connection to the relay; `incoming` finishes and requests still waiting throw `closed`.
    public func close() async {
        await closeLeg()
    }

    private func head(_ method: String, toPath: [MSRPURI], extra: [MSRPHead.Field]) -> MSRPHead {
        MSRPHead(transactionID: MSRPHead.makeTransactionID(using: &generator), startLine: .request(method: method),
                 fields: [.init("To-Path", toPath.map(\.description).joined(separator: " ")),
                          .init("From-Path", localURI.description)] + extra)
    }

    private func request(_ method: String, toPath: [MSRPURI], extra: [MSRPHead.Field], body: ByteBuffer? = nil,
                         continuation: MSRPContinuation = .complete) async throws -> MSRPHead {
        guard !closed else { throw ClientError.closed }
        let h = head(method, toPath: toPath, extra: extra)
        return try await withCheckedThrowingContinuation { waiter in
            waiting[h.transactionID] = waiter
            Task {
                do { try await self.sendChunk(MSRPChunk(head: h, body: body, continuation: continuation)) } catch {
                    self.abandon(h.transactionID, error)
                }
            }
        }
    }

    private func abandon(_ tid: String, _ error: any Error) {
        waiting.removeValue(forKey: tid)?.resume(throwing: error)
    }

    private static func comment(_ head: MSRPHead) -> String {
        if case .response(_, let comment) = head.startLine { return comment ?? "" }
        return ""
    }

    // MARK: Inbound

    func received(_ chunk: MSRPChunk) async {
        let head = chunk.head
        guard let method = head.method else {
            waiting.removeValue(forKey: head.transactionID)?.resume(returning: head)
            return
        }
        if method == "SEND", MSRPRelay.wantsSuccessResponse(head) {
            try? await sendChunk(MSRPChunk(head: MSRPRelay.response(to: head, 200, "OK")))
        }
        let id = head["Message-ID"] ?? head.transactionID
        var body = partial.removeValue(forKey: id) ?? ByteBuffer()
        if var piece = chunk.body { body.writeBuffer(&piece) }
        guard chunk.continuation != .more else {
            partial[id] = body
            return
        }
        guard chunk.continuation == .complete else { return } // aborted
        incomingContinuation.yield(Incoming(method: method, fromPath: head["From-Path"] ?? "", contentType: head["Content-Type"],
                                            body: body, status: head["Status"]))
    }

    func ended() {
        closed = true
        for (_, waiter) in waiting { waiter.resume(throwing: ClientError.closed) }
        waiting.removeAll()
        incomingContinuation.finish()
    }
}

/// Parses a TCP stream into chunks for `MSRPClient`.
final class ChunkStreamHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private var reader = MSRPChunkReader()
    private let continuation: AsyncStream<MSRPChunk>.Continuation

    init(continuation: AsyncStream<MSRPChunk>.Continuation) {
        self.continuation = continuation
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        while let result = reader.next(&input) {
            guard case .success(let chunk) = result else {
                context.close(promise: nil)
                return
            }
            continuation.yield(chunk)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }
}
