import NIOCore
import WebSocketEngine

/// Opens a tunnel through an HTTP proxy: sends `CONNECT`, waits for a 2xx, then hands the channel to what
/// runs inside the tunnel (TLS for `wss://`, then the WebSocket handshake) and steps aside.
final class ProxyConnectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private let proxy: HTTPProxy
    private let targetHost: String
    private let targetPort: Int
    private let timeout: TimeAmount
    /// Installs the handlers that run inside the tunnel, after this one.
    private let installTunnelHandlers: (ChannelHandlerContext) throws -> Void
    private let failed: (any Error) -> Void
    private var response = ResponseHeadReader(limits: .init())
    private var done = false
    private var timer: Scheduled<Void>?

    init(proxy: HTTPProxy, targetHost: String, targetPort: Int, timeout: TimeAmount,
         installTunnelHandlers: @escaping (ChannelHandlerContext) throws -> Void, failed: @escaping (any Error) -> Void) {
        self.proxy = proxy
        self.targetHost = targetHost
        self.targetPort = targetPort
        self.timeout = timeout
        self.installTunnelHandlers = installTunnelHandlers
        self.failed = failed
    }

    func channelActive(context: ChannelHandlerContext) {
        let request = proxy.connectRequest(toHost: targetHost, port: targetPort)
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: request)), promise: nil)
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [self] in
            fail(WebSocketTransportError.proxyFailed("proxy \(proxy.host):\(proxy.port) did not answer CONNECT in time"), context: context)
        }
        // Not forwarded: the handlers inside the tunnel start when it is open.
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !done else { return context.fireChannelRead(data) }
        var incoming = unwrapInboundIn(data)
        switch response.read(&incoming) {
        case .needMoreData:
            return
        case .failed(let error):
            fail(WebSocketTransportError.proxyFailed("proxy \(proxy.host):\(proxy.port) sent an invalid response: \(error)"), context: context)
        case .complete(let head):
            guard (200..<300).contains(head.status) else {
                // 407 is the standard answer; some proxies (tinyproxy) answer wrong credentials with 401.
                let authProblem = head.status == 407 || head.status == 401
                let hint = !authProblem ? "" : proxy.username == nil
                    ? " (the proxy wants credentials: http://user:password@host:port)" : " (the proxy refused these credentials)"
                return fail(WebSocketTransportError.proxyFailed(
                    "proxy \(proxy.host):\(proxy.port) refused CONNECT \(targetHost):\(targetPort): \(head.status) \(head.reason)\(hint)"), context: context)
            }
            done = true
            timer?.cancel()
            do {
                try installTunnelHandlers(context)
            } catch {
                failed(error)
                context.close(promise: nil)
                return
            }
            // The tunnel is open: what follows is the target's, for the handlers now after this one (they
            // start on being added to the active channel).
            let rest = response.takeRemainder()
            if rest.readableBytes > 0 { context.fireChannelRead(wrapInboundOut(rest)) }
            context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            fail(WebSocketTransportError.proxyFailed("proxy \(proxy.host):\(proxy.port) closed the connection during CONNECT"), context: context)
        }
        context.fireChannelInactive()
    }

    private func fail(_ error: any Error, context: ChannelHandlerContext) {
        guard !done else { return }
        done = true
        timer?.cancel()
        failed(error)
        context.close(promise: nil)
    }
}
