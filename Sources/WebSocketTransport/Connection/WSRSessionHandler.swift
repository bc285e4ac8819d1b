import Logging
import NIOCore
import RTMPEngine
import WebSocketAPI
import WebSocketEngine

/// An RTMP connection on the gateway's port (first byte 0x03): drives `WSRServerSession` through the handshake
/// and commands, then — once `play` arrived for a session created over HTTP — hands the connection
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
    /// The session this connection's `connect` claimed (taken from `sessions`: no other connection can have it).
    private var claimed: WSRSessions.Pending?

    /// - Parameter start: installs the WebSocket handler for the opened session (the handshake handler's).
    init(sessions: WSRSessions, logger: Logger,
         start: @escaping (WSRServerSession, WSRSessions.Pending, ChannelHandlerContext) -> Void) {
        self.sessions = sessions
        self.logger = logger
        self.start = start
    }

    func handlerAdded(context: ChannelHandlerContext) {
        // wsr.md §1.4: a session must be connected within the deadline.
        let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: sessions.deadline) { [logger] in
            logger.info("WSR session not opened in time")
            bound.value.close(promise: nil)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        deadline?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return }
        var input = unwrapInboundIn(data)
        let sessions = self.sessions
        var lastWrite: EventLoopFuture<Void>?
        var claimed = self.claimed
        let actions = session.read(&input) { tcUrl in
            claimed = sessions.take(tcUrl)
            return claimed != nil
        }
        self.claimed = claimed
        for action in actions {
            switch action {
            case .send(let bytes):
                lastWrite = context.writeAndFlush(wrapOutboundOut(bytes))
            case .declined(let what):
                logger.debug("WSR session declined a request", metadata: ["what": "\(what)", "peer": "\(peer(context))"])
            case .fail(let why):
                done = true
                logger.info("WSR session refused", metadata: ["reason": "\(why)", "peer": "\(peer(context))"])
                // After the refusal the session just sent (an `_error` for an unknown tcUrl) has left.
                if let lastWrite {
                    let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                    lastWrite.whenComplete { _ in bound.value.close(promise: nil) }
                } else {
                    context.close(promise: nil)
                }
                return
            case .open:
                done = true
                guard let pending = claimed else { // cannot happen: open follows a successful claim
                    logger.error("WSR session opened without a claimed session", metadata: ["peer": "\(peer(context))"])
                    context.close(promise: nil)
                    return
                }
                deadline?.cancel()
                start(session, pending, context)
                return
            }
        }
    }

    private func peer(_ context: ChannelHandlerContext) -> String {
        context.remoteAddress.map { "\($0)" } ?? "?"
    }
}
