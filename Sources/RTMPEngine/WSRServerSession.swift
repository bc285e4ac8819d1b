import NIOCore

/// The server side of a WSR session before its emulated WebSocket opens (wsr.md §2–4), as a state machine:
/// the RTMP handshake, then `connect` (whose `tcUrl` must name a session created over HTTP), `createStream`,
/// `publish` and `play`, answered exactly as the Kaazing gateway answered them. The session opens at `play`
/// (the downstream exists from then on): Flash and the wsgate client send `publish` first, so for them this is
/// the gateway's "both arrived"; receive-only RTMP clients (librtmp, rtmpdump) that only `play` work too.
/// `makeConnection()` then hands the chunk stream over to a `WSRConnection`.
///
/// Beyond the gateway, which just closed TCP: a `connect` for an unknown `tcUrl` gets an `_error`
/// (`NetConnection.Connect.Rejected`, saying how to create a session) before the close, so RTMP tools report a
/// reason instead of a dropped connection; other commands WSR does not use get `_error`
/// (`NetConnection.Call.Failed`) and the session goes on, as RTMP servers answer calls they do not know.
public struct WSRServerSession: Sendable {
    public enum Action: Sendable, Equatable {
        case send(ByteBuffer)
        /// The emulated WebSocket is open, for the session created with this URL.
        case open(tcUrl: String)
        /// Close the connection (after the bytes sent so far): the reason, for the log.
        case fail(String)
        /// Something the peer did that the session declined and went on after: for the log.
        case declined(String)
    }

    private enum Phase: Sendable { case handshake, connecting, streams, open, failed }

    private var phase: Phase = .handshake
    private var handshake = RTMPHandshake(role: .server)
    private var reader: RTMPChunkReader
    private let writer = RTMPChunkWriter(chunkSize: 65536)
    private var flow = RTMPFlowControl()
    private var nextStreamID: UInt32 = 1
    private var playStreamID: UInt32?
    public private(set) var tcUrl: String?
    /// Bytes read after the last complete message of the setup phase: the WebSocket phase's first.
    private var leftover = ByteBuffer()

    /// Before the session opens only commands arrive, all small: a connection that has not proven it holds a
    /// session may not make the gateway buffer more than this.
    public static let setupLimits = RTMPChunkReader.Limits(maxChunkSize: 1 << 20, maxMessageLength: 64 << 10,
                                                           maxChunkStreams: 16, maxBufferedBytes: 128 << 10)

    public init(limits: RTMPChunkReader.Limits = setupLimits) {
        reader = RTMPChunkReader(limits: limits)
    }

    /// Consumes bytes. `claim(tcUrl)` takes the session an HTTP create issued for that URL if it is still waiting
    /// (false otherwise): a session belongs to the first connection that connects with its URL.
    public mutating func read(_ input: inout ByteBuffer, claim: (String) -> Bool) -> [Action] {
        var actions: [Action] = []
        if phase == .handshake {
            switch handshake.read(&input) {
            case .needMoreData: return []
            case .failed(let why):
                phase = .failed
                return [.fail(why)]
            case .send(let bytes):
                return [.send(bytes)]
            case .done(var bytes):
                phase = .connecting
                // After C2 the gateway set its outbound chunk size to 65536.
                writer.write(RTMPMessage(chunkStreamID: 2, typeID: RTMPMessage.setChunkSize,
                                         payload: ByteBuffer(integer: UInt32(writer.chunkSize))), into: &bytes)
                actions.append(.send(bytes))
            }
        }
        while phase == .connecting || phase == .streams {
            guard let result = reader.next(&input) else {
                var ack = ByteBuffer()
                flow.acknowledge(received: reader.bytesReceived, writer: writer, into: &ack)
                return ack.readableBytes > 0 ? actions + [.send(ack)] : actions
            }
            switch result {
            case .failure(let f):
                phase = .failed
                return actions + [.fail("\(f)")]
            case .success(let message):
                actions += handle(message, claim: claim)
            }
        }
        if phase == .open { leftover.writeBuffer(&input) }
        return actions
    }

    private mutating func handle(_ message: RTMPMessage, claim: (String) -> Bool) -> [Action] {
        switch message.typeID {
        case RTMPMessage.setChunkSize, RTMPMessage.abort, RTMPMessage.acknowledgement, RTMPMessage.userControl,
             RTMPMessage.windowAckSize, RTMPMessage.setPeerBandwidth:
            var answer = ByteBuffer()
            flow.handle(message, writer: writer, into: &answer)
            return answer.readableBytes > 0 ? [.send(answer)] : []
        case RTMPMessage.amf0Command, RTMPMessage.amf3Command:
            var body = message.payload
            if message.typeID == RTMPMessage.amf3Command { body.moveReaderIndex(forwardBy: min(1, body.readableBytes)) }
            var decoder = AMFDecoder(body)
            guard let values = try? decoder.decodeAll(), let name = values.first?.stringValue,
                  case .number(let txid)? = values.dropFirst().first else {
                phase = .failed
                return [.fail("malformed RTMP command")]
            }
            return command(name, txid: txid, arguments: Array(values.dropFirst(2)), streamID: message.messageStreamID,
                           claim: claim)
        default:
            phase = .failed
            return [.fail("RTMP message type \(message.typeID) is not part of WSR")]
        }
    }

    private mutating func command(_ name: String, txid: Double, arguments: [AMFValue], streamID: UInt32,
                                  claim: (String) -> Bool) -> [Action] {
        switch (phase, name) {
        case (.connecting, "connect"):
            guard let url = arguments.first?["tcUrl"]?.stringValue, claim(url) else {
                phase = .failed
                let tcUrl = arguments.first?["tcUrl"]?.stringValue
                let why = tcUrl.map { "no WSR session was created for tcUrl \(RTMPCommandReply.printable($0))" } ?? "connect without a tcUrl"
                return [.send(reply([.string("_error"), .number(txid), .null, .object([
                    ("level", .string("error")), ("code", .string("NetConnection.Connect.Rejected")),
                    ("description", .string(why + "; create one first with an HTTP request to <websocket path>/;e/cr"
                        + " (header X-WebSocket-Version: wsr-1.0) and connect with the URL it answers")),
                ])])), .fail(why)]
            }
            tcUrl = url
            phase = .streams
            return [.send(reply([.string("_result"), .number(txid), .null, .object([
                ("level", .string("Status")), ("code", .string("NetConnection.Connect.Success")),
                ("description", .string("Connection succeeded")), ("details", .null), ("objectEncoding", .number(3)),
            ])]))]
        case (.streams, "createStream"):
            let id = nextStreamID
            nextStreamID += 1
            return [.send(reply([.string("_result"), .number(txid), .null, .number(Double(id))]))]
        case (.streams, "publish"):
            return []
        case (.streams, "play"):
            // The stream the client plays on (Flash: its second createStream); msid 0 would be the connection's.
            playStreamID = streamID != 0 ? streamID : max(1, nextStreamID - 1)
            var out = reply([.string("onStatus"), .number(txid), .null, .object([
                ("level", .string("status")), ("code", .string("NetStream.Play.Start")),
                ("description", .string("Started playing stream")), ("details", .null),
            ])])
            for marker in ["|RtmpSampleAccess", "onStatus", "onMetaData"] {
                var body = ByteBuffer()
                AMFEncoder.encode(.string(marker), into: &body)
                writer.write(RTMPMessage(chunkStreamID: WSRConnection.dataChunkStream, typeID: RTMPMessage.amf0Data,
                                         messageStreamID: playStreamID!, payload: body), into: &out)
            }
            phase = .open
            return [.send(out), .open(tcUrl: tcUrl ?? "")]
        case (.connecting, _):
            phase = .failed
            return [.fail("RTMP command \(RTMPCommandReply.printable(name)) before connect")]
        case (_, "deleteStream"), (_, "closeStream"), (_, "releaseStream"), (_, "FCPublish"), (_, "FCUnpublish"),
             (_, "FCSubscribe"), (_, "FCUnsubscribe"):
            // Stream bookkeeping RTMP clients send around publish/play; nothing to do before the session is open.
            return []
        default:
            // A call WSR does not use (`_checkbw`, `getStreamLength`, …): answered, not fatal. Transaction 0 asks
            // for no answer.
            let declined = Action.declined("RTMP command \(RTMPCommandReply.printable(name)) is not part of WSR")
            guard txid != 0 else { return [declined] }
            return [.send(reply(RTMPCommandReply.callFailed(name, txid: txid))), declined]
        }
    }

    private func reply(_ values: [AMFValue]) -> ByteBuffer {
        var out = ByteBuffer()
        RTMPCommandReply.write(values, with: writer, into: &out)
        return out
    }

    /// The engine of the open WebSocket phase, continuing this session's chunk stream; `leftover` holds bytes
    /// that arrived with the last setup message (feed them to it first). From now on the reader's limits are
    /// `limits` (messages up to the service's maximum, not the setup phase's small commands).
    public mutating func makeConnection(limits: RTMPChunkReader.Limits = .init()) -> (connection: WSRConnection, leftover: ByteBuffer) {
        defer { leftover = ByteBuffer() }
        var reader = reader
        reader.limits = limits
        return (WSRConnection(role: .server, reader: reader, writer: writer, outboundStreamID: playStreamID ?? 1,
                              nextStreamID: nextStreamID, flow: flow), leftover)
    }
}
