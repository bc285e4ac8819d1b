import NIOCore

/// One RTMP message, reassembled from its chunks (or to be chunked).
public struct RTMPMessage: Sendable, Equatable {
    public var chunkStreamID: UInt32
    public var typeID: UInt8
    public var messageStreamID: UInt32
    public var timestamp: UInt32
    public var payload: ByteBuffer

    public init(chunkStreamID: UInt32, typeID: UInt8, messageStreamID: UInt32 = 0, timestamp: UInt32 = 0, payload: ByteBuffer) {
        self.chunkStreamID = chunkStreamID
        self.typeID = typeID
        self.messageStreamID = messageStreamID
        self.timestamp = timestamp
        self.payload = payload
    }

    public static let setChunkSize: UInt8 = 1
    public static let abort: UInt8 = 2
    public static let acknowledgement: UInt8 = 3
    public static let userControl: UInt8 = 4
    public static let windowAckSize: UInt8 = 5
    public static let setPeerBandwidth: UInt8 = 6
    public static let amf3Data: UInt8 = 15
    public static let amf3Command: UInt8 = 17
    public static let amf0Data: UInt8 = 18
    public static let amf0Command: UInt8 = 20
}
