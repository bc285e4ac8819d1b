import NIOCore

/// An open WSR session: each WebSocket message is one RTMP AMF3 data message (wsr.md §5) — inbound on the
/// publish stream, outbound on the play stream, chunk stream 8, timestamp 0, one type-0 header and type-3
/// continuations. There is no close frame and no ping: closing the TCP connection closes the WebSocket.
///
/// Commands still arrive once open: `deleteStream` closes (the spec's rule); on the server, a `createStream`
/// gets its stream id (a client that played first and publishes now — librtmp does this) and other calls with a
/// transaction id get `_error`, so no RTMP client waits for an answer that never comes.
public struct WSRConnection: Sendable {
    public static let dataChunkStream: UInt32 = 8

    public enum Role: Sendable { case server, client }

    public let role: Role
    private var reader: RTMPChunkReader
    private let writer: RTMPChunkWriter
    private let outboundStreamID: UInt32
    private var nextStreamID: UInt32
    private var flow: RTMPFlowControl
    public private(set) var closed = false
    public private(set) var failure: String?

    /// - Parameter nextStreamID: the id the server gives the next `createStream` (after the setup phase's).
    public init(role: Role, reader: RTMPChunkReader, writer: RTMPChunkWriter, outboundStreamID: UInt32,
                nextStreamID: UInt32 = 1, flow: RTMPFlowControl = .init()) {
        self.role = role
        self.reader = reader
        self.writer = writer
        self.outboundStreamID = outboundStreamID
        self.nextStreamID = nextStreamID
        self.flow = flow
    }

    public enum Event: Sendable, Equatable {
        /// A WebSocket message: its bytes, and whether it came as an AMF3 String (text).
        case message([UInt8], text: Bool)
        /// `deleteStream`: the peer closed the WebSocket.
        case closed
        case failed(String)
    }

    /// The next WebSocket-level event from the bytes so far (appending `input`); nil when more are needed.
    /// Answers to the peer's commands and control messages (pings, acknowledgements) are appended to `replies`.
    public mutating func next(_ input: inout ByteBuffer, replies: inout ByteBuffer) -> Event? {
        defer { flow.acknowledge(received: reader.bytesReceived, writer: writer, into: &replies) }
        while !closed, failure == nil, let result = reader.next(&input) {
            switch result {
            case .failure(let f):
                failure = "\(f)"
                return .failed("\(f)")
            case .success(let message):
                switch message.typeID {
                case RTMPMessage.amf3Data, RTMPMessage.amf0Data:
                    guard let (bytes, text) = WSRDataMessage.payload(of: message.payload) else {
                        if message.typeID == RTMPMessage.amf0Data { continue } // |RtmpSampleAccess and the like
                        failure = "a data message that is not a WSR message"
                        return .failed(failure!)
                    }
                    return .message(bytes, text: text)
                case RTMPMessage.amf0Command, RTMPMessage.amf3Command:
                    var body = message.payload
                    if message.typeID == RTMPMessage.amf3Command { body.moveReaderIndex(forwardBy: min(1, body.readableBytes)) }
                    var decoder = AMFDecoder(body)
                    guard case .string(let name)? = try? decoder.decode() else { continue }
                    if name == "deleteStream" {
                        closed = true
                        return .closed
                    }
                    if role == .server, case .number(let txid)? = try? decoder.decode(), txid != 0 {
                        answer(name, txid: txid, into: &replies)
                    }
                case RTMPMessage.setChunkSize, RTMPMessage.abort, RTMPMessage.acknowledgement, RTMPMessage.userControl,
                     RTMPMessage.windowAckSize, RTMPMessage.setPeerBandwidth:
                    flow.handle(message, writer: writer, into: &replies)
                default:
                    failure = "RTMP message type \(message.typeID) is not part of WSR"
                    return .failed(failure!)
                }
            }
        }
        return nil
    }

    private mutating func answer(_ command: String, txid: Double, into out: inout ByteBuffer) {
        guard command == "createStream" else {
            return RTMPCommandReply.write(RTMPCommandReply.callFailed(command, txid: txid), with: writer, into: &out)
        }
        RTMPCommandReply.write([.string("_result"), .number(txid), .null, .number(Double(nextStreamID))], with: writer, into: &out)
        nextStreamID += 1
    }

    /// Appends `deleteStream` of the stream this side writes on: the spec's way to close the emulated WebSocket
    /// (the Kaazing gateway ignored it and waited for the TCP close, which follows it anyway).
    public func writeDeleteStream(into out: inout ByteBuffer) {
        var body = ByteBuffer()
        AMFEncoder.encode([.string("deleteStream"), .number(0), .null, .number(Double(outboundStreamID))], into: &body)
        writer.write(RTMPMessage(chunkStreamID: 3, typeID: RTMPMessage.amf0Command, payload: body), into: &out)
    }

    /// Appends one WebSocket message as its RTMP message.
    public func write(_ payload: [UInt8], text: Bool, into out: inout ByteBuffer) {
        write(ByteBuffer(bytes: payload), text: text, into: &out)
    }

    public func write(_ payload: ByteBuffer, text: Bool, into out: inout ByteBuffer) {
        writer.write(RTMPMessage(chunkStreamID: Self.dataChunkStream, typeID: RTMPMessage.amf3Data, messageStreamID: outboundStreamID,
                                 payload: WSRDataMessage.body(payload, text: text)), into: &out)
    }
}
