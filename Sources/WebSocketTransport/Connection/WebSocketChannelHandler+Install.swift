import NIOCore

extension WebSocketChannelHandler {
    /// Takes over the channel from the handshake handler at `context` — server or client, every wire: this
    /// handler goes in right after it, `announce` hears of the open connection (the listener's tracker, the
    /// client's promise), the bytes that followed the handshake are read as this connection's first frames,
    /// and the handshake handler leaves the pipeline. Throws, changing nothing, when the handler cannot be added.
    func install(replacing context: ChannelHandlerContext, leftover: ByteBuffer,
                 announce: (WebSocketChannelHandler<Engine>) -> Void) throws {
        try context.pipeline.syncOperations.addHandler(self, position: .after(context.handler))
        announce(self)
        if leftover.readableBytes > 0 {
            context.fireChannelRead(NIOAny(leftover))
            context.fireChannelReadComplete()
        }
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }
}
