import NIOCore

/// The client side of a WSR session before its emulated WebSocket opens (wsr.md §2, §4): the RTMP handshake,
/// `connect` with the created URL as `tcUrl` (objectEncoding 3), two `createStream`s, then `publish` on the first
/// stream (upstream) and `play` on the second (downstream). The WebSocket is open when `NetStream.Play.Start`
/// arrives after `publish` was sent. Each command goes out as one write (the Kaazing gateway lost data when a
/// header straddled two reads).
///
/// `.publish` mode talks to an ordinary RTMP server (nginx-rtmp, Red5, …) where there is no created session: one
/// `createStream`, `publish`, and the session is open at `NetStream.Publish.Start` — the messages written go up
/// the published stream as WSR data messages, and WSR data messages the server sends come back as messages.
public struct WSRClientSession: Sendable {
    public enum Action: Sendable, Equatable {
        case send(ByteBuffer)
        case open
        case fail(String)
    }

    public enum Mode: Sendable {
        /// A WSR session (wsr.md §4): publish and play, open at `NetStream.Play.Start`.
        case wsr
        /// Publish to an ordinary RTMP server, open at `NetStream.Publish.Start`.
        case publish
    }

    private enum Phase: Sendable { case handshake, connecting, creating, playing, open, failed }

    private var phase: Phase = .handshake
    private var handshake: RTMPHandshake
    private var reader: RTMPChunkReader
    private let writer = RTMPChunkWriter(chunkSize: 128)
    private var flow = RTMPFlowControl()
    public let tcUrl: String
    public let mode: Mode
    private let app: String
    private let streamName: String
    private var streams: [UInt32] = []
    private var leftover = ByteBuffer()

    /// - Parameters:
    ///   - app: the `connect` command's `app`; by default the whole path after the host (wsr.md §4: Flash sent
    ///     `proxy?.kz=…`).
    ///   - streamName: the name published and played (the WSR gateway ignored it; Flash used "s").
    public init(tcUrl: String, app: String? = nil, streamName: String = "s", mode: Mode = .wsr,
                limits: RTMPChunkReader.Limits = .init(), random: [UInt8]? = nil) {
        self.tcUrl = tcUrl
        self.mode = mode
        self.app = app ?? tcUrl.split(separator: "/", maxSplits: 3, omittingEmptySubsequences: false).dropFirst(3).first.map(String.init) ?? ""
        self.streamName = streamName
        handshake = RTMPHandshake(role: .client, random: random)
        reader = RTMPChunkReader(limits: limits)
    }

    /// C0 + C1: what the client sends first.
    public var start: ByteBuffer { handshake.clientHello }

    public mutating func read(_ input: inout ByteBuffer) -> [Action] {
        var actions: [Action] = []
        if phase == .handshake {
            switch handshake.read(&input) {
            case .needMoreData: return []
            case .failed(let why):
                phase = .failed
                return [.fail(why)]
            case .send(let bytes):
                return [.send(bytes)]
            case .done(var c2):
                phase = .connecting
                // `connect` carries its command object right after the transaction id (no null before it).
                var connect = command("connect", txid: 1, [.object([
                    ("app", .string(app)), ("tcUrl", .string(tcUrl)), ("objectEncoding", .number(3)),
                ])], commandObject: false)
                c2.writeBuffer(&connect)
                actions.append(.send(c2))
            }
        }
        while phase != .open, phase != .failed, let result = reader.next(&input) {
            switch result {
            case .failure(let f):
                phase = .failed
                return actions + [.fail("\(f)")]
            case .success(let message):
                actions += handle(message)
            }
        }
        if phase == .open { leftover.writeBuffer(&input) }
        var ack = ByteBuffer()
        if phase != .failed { flow.acknowledge(received: reader.bytesReceived, writer: writer, into: &ack) }
        guard ack.readableBytes > 0 else { return actions }
        // Before `.open`: the caller hands the connection over at that action.
        actions.insert(.send(ack), at: actions.firstIndex(of: .open) ?? actions.endIndex)
        return actions
    }

    private mutating func handle(_ message: RTMPMessage) -> [Action] {
        guard message.typeID == RTMPMessage.amf0Command || message.typeID == RTMPMessage.amf3Command else {
            var answer = ByteBuffer() // pings and window sizes of an ordinary RTMP server (nginx-rtmp sends both)
            flow.handle(message, writer: writer, into: &answer)
            return answer.readableBytes > 0 ? [.send(answer)] : []
        }
        var body = message.payload
        if message.typeID == RTMPMessage.amf3Command { body.moveReaderIndex(forwardBy: min(1, body.readableBytes)) }
        var decoder = AMFDecoder(body)
        guard let values = try? decoder.decodeAll(), let name = values.first?.stringValue else {
            phase = .failed
            return [.fail("malformed RTMP command")]
        }
        switch (phase, name) {
        case (.connecting, "_result"):
            guard values.count >= 4, values[3]["code"] == .string("NetConnection.Connect.Success") else {
                phase = .failed
                return [.fail("connect refused")]
            }
            phase = .creating
            var out = command("createStream", txid: 2, [])
            if mode == .wsr {
                var second = command("createStream", txid: 3, [])
                out.writeBuffer(&second)
            }
            return [.send(out)]
        case (.creating, "_result"):
            guard values.count >= 4, case .number(let id) = values[3] else {
                phase = .failed
                return [.fail("createStream refused")]
            }
            streams.append(UInt32(id))
            guard streams.count == (mode == .wsr ? 2 : 1) else { return [] }
            phase = .playing
            var out = command("publish", txid: 0, [.string(streamName)] + (mode == .publish ? [.string("live")] : []),
                              stream: streams[0], chunkStream: WSRConnection.dataChunkStream)
            if mode == .wsr {
                var play = command("play", txid: 0, [.string(streamName)], stream: streams[1], chunkStream: 14)
                out.writeBuffer(&play)
            }
            return [.send(out)]
        case (.playing, "onStatus"):
            let code = values.count >= 4 ? values[3]["code"]?.stringValue : nil
            if code == (mode == .wsr ? "NetStream.Play.Start" : "NetStream.Publish.Start") {
                phase = .open
                return [.open]
            }
            if values.count >= 4, values[3]["level"]?.stringValue == "error" {
                phase = .failed
                return [.fail("the server answered \(code ?? "an error status")")]
            }
            return []
        case (_, "_error"):
            phase = .failed
            let info = values.count >= 4 ? values[3] : .null
            let why = [info["code"]?.stringValue, info["description"]?.stringValue].compactMap { $0 }.joined(separator: ": ")
            return [.fail("the server answered _error" + (why.isEmpty ? "" : " (\(why))"))]
        default:
            return []
        }
    }

    private func command(_ name: String, txid: Double, _ arguments: [AMFValue], stream: UInt32 = 0, chunkStream: UInt32 = 3,
                         commandObject: Bool = true) -> ByteBuffer {
        var body = ByteBuffer()
        AMFEncoder.encode([.string(name), .number(txid)] + (commandObject ? [.null] : []) + arguments, into: &body)
        var out = ByteBuffer()
        writer.write(RTMPMessage(chunkStreamID: chunkStream, typeID: RTMPMessage.amf0Command, messageStreamID: stream, payload: body),
                     into: &out)
        return out
    }

    /// The engine of the open WebSocket phase; `leftover` holds bytes that came with the opening status.
    public mutating func makeConnection() -> (connection: WSRConnection, leftover: ByteBuffer) {
        defer { leftover = ByteBuffer() }
        return (WSRConnection(role: .client, reader: reader, writer: writer, outboundStreamID: streams.first ?? 1, flow: flow),
                leftover)
    }
}
