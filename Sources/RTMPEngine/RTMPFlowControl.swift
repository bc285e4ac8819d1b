import NIOCore

/// The protocol control an RTMP peer owes the other side whatever the session is for (Adobe's RTMP spec §5.4,
/// §6.2), kept apart from the WSR state machines that all need it:
/// - an Acknowledgement each time a window's worth of bytes arrived, once the peer set the window with Window
///   Acknowledgement Size (a peer may stop sending until it is acknowledged);
/// - Window Acknowledgement Size in answer to Set Peer Bandwidth, when the size differs from the last one sent;
/// - Ping Response to a Ping Request (User Control event 6): nginx-rtmp drops clients that do not answer.
///
/// The Kaazing gateway did none of this (and sent none of these, so its clients never needed answers); a client
/// talking to other RTMP servers and a server facing other RTMP clients do.
public struct RTMPFlowControl: Sendable, Equatable {
    public static let pingRequest: UInt16 = 6
    public static let pingResponse: UInt16 = 7

    private var window: UInt32?
    private var acknowledgedAt: UInt64 = 0
    private var announcedWindow: UInt32?

    public init() {}

    /// Appends the answer `message` needs, if it is a control message that needs one.
    public mutating func handle(_ message: RTMPMessage, writer: RTMPChunkWriter, into out: inout ByteBuffer) {
        var payload = message.payload
        switch message.typeID {
        case RTMPMessage.windowAckSize:
            guard let size = payload.readInteger(as: UInt32.self), size > 0 else { return }
            window = size
        case RTMPMessage.setPeerBandwidth:
            guard let size = payload.readInteger(as: UInt32.self), size > 0, size != announcedWindow else { return }
            announcedWindow = size
            writer.write(Self.control(RTMPMessage.windowAckSize, ByteBuffer(integer: size)), into: &out)
        case RTMPMessage.userControl:
            guard payload.readInteger(as: UInt16.self) == Self.pingRequest, let time = payload.readInteger(as: UInt32.self) else { return }
            var body = ByteBuffer()
            body.writeInteger(Self.pingResponse)
            body.writeInteger(time)
            writer.write(Self.control(RTMPMessage.userControl, body), into: &out)
        default:
            return
        }
    }

    /// Appends an Acknowledgement when a window's worth arrived since the last one; `received` counts every byte
    /// read after the handshake (the sequence number wraps at 32 bits, as the spec says).
    public mutating func acknowledge(received: UInt64, writer: RTMPChunkWriter, into out: inout ByteBuffer) {
        guard let window, received - acknowledgedAt >= UInt64(window) else { return }
        acknowledgedAt = received
        writer.write(Self.control(RTMPMessage.acknowledgement, ByteBuffer(integer: UInt32(truncatingIfNeeded: received))), into: &out)
    }

    /// Protocol control messages go on chunk stream 2, message stream 0.
    private static func control(_ type: UInt8, _ payload: ByteBuffer) -> RTMPMessage {
        RTMPMessage(chunkStreamID: 2, typeID: type, payload: payload)
    }
}
