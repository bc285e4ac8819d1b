import Logging
import NIOCore
import RTMPEngine
import WebSocketAPI
import WebSocketEngine

/// An RTMP connection on the gateway's port (first byte 0x03): drives `WSRServerSession` through the handshake
/// and commands, then — once `publish` and `play` arrived for a session created over HTTP — hands the connection
/// to the one WebSocket channel handler with a `WSRWireEngine`, so the path's service sees a WebSocket.
final class WSRSessionHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private var session = WSRServerSession()
    private let sessions: WSRSessions
    private let start: (WSRServerSession, WSRSessions.Pending, ChannelHandlerContext) -> Void
    private let logger: Logger
    private var deadline: Scheduled<Void>?
    private var done = false

    /// - Parameter start: installs the WebSocket handler for the opened session (the handshake handler's).
    init(sessions: WSRSessions, logger: Logger,
         start: @escaping (WSRServerSession, WSRSessions.Pending, ChannelHandlerContext) -> Void) {
        self.sessions = sessions
        self.logger = logger
        self.start = start
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // wsr.md §1.4: a session must be connected within the deadline.
        deadline = context.eventLoop.scheduleTask(in: sessions.deadline) { [logger] in
            logger.info("WSR session not opened in time")
            context.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var input = unwrapInboundIn(data)
        let sessions = self.sessions
        for action in session.read(&input, isPending: { sessions.isPending($0) }) {
            switch action {
            case .send(let bytes):
                context.writeAndFlush(wrapOutboundOut(bytes), promise: nil)
            case .fail(let why):
                done = true
                logger.info("WSR session refused", metadata: ["reason": "\(why)", "peer": "\(context.remoteAddress.map { "\($0)" } ?? "?")"])
                context.close(promise: nil)
                return
            case .open(let tcUrl):
                done = true
                guard let pending = sessions.take(tcUrl) else {
                    context.close(promise: nil)
                    return
                }
                deadline?.cancel()
                start(session, pending, context)
                return
            }
        }
    }
}
