import Logging
import NIOCore
import NIOPosix
import WebSocketAPI

/// Bridges each WebSocket to its own TCP connection to a backend (the websockify use case: VNC, SSH, any
/// TCP protocol for a browser): message payloads go to the backend as bytes, the backend's bytes come back
/// as binary messages. Backpressure both ways: a backend that does not read pauses reading from the
/// WebSocket, a WebSocket client that does not read pauses reading from the backend.
///
/// One backend (`init(host:port:)`), or a named allowlist the connection picks from (`init(targets:)`): by a
/// claim of its identity, a path segment or a query parameter; a name outside the list is refused with `403`.
public struct TCPProxyService: WebSocketService {
    public enum Backends: Sendable, Hashable {
        case one(TCPProxyTargets.Backend)
        case named(TCPProxyTargets)
    }

    public let backends: Backends
    public var connectTimeout: TimeAmount
    private let logger: Logger

    public init(host: String, port: Int, connectTimeout: TimeAmount = .seconds(10), logger: Logger = Logger(label: "wsgate.tcp-proxy")) {
        self.backends = .one(.init(host: host, port: port))
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    public init(targets: TCPProxyTargets, connectTimeout: TimeAmount = .seconds(10), logger: Logger = Logger(label: "wsgate.tcp-proxy")) {
        self.backends = .named(targets)
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    /// The backend of a connection.
    func backend(for request: WebSocketRequest) -> Result<TCPProxyTargets.Backend, TCPProxyTargets.TargetRefusal> {
        switch backends {
        case .one(let backend): return .success(backend)
        case .named(let targets): return targets.backend(for: request)
        }
    }

    public func decide(request: WebSocketRequest, offeredSubprotocols: [String]) -> ServiceDecision {
        switch backend(for: request) {
        case .success: return .accept(subprotocol: nil)
        case .failure(let refusal): return .reject(.forbidden(refusal.reason))
        }
    }

    public func makeHandler() -> any WebSocketHandler {
        TCPProxyHandler(service: self, connectTimeout: connectTimeout, logger: logger)
    }
}

/// One WebSocket's side of the bridge. Everything runs on the WebSocket's event loop, which the backend
/// connection shares.
final class TCPProxyHandler: WebSocketHandler {
    private let service: TCPProxyService
    private var host = ""
    private var port = 0
    private let connectTimeout: TimeAmount
    private let logger: Logger
    private var backend: (any Channel)?
    private var websocket: (any WebSocketConnection)?
    /// Bytes the client sent before the backend connection was up.
    private var early: [ByteBuffer] = []
    private var closed = false

    init(service: TCPProxyService, connectTimeout: TimeAmount, logger: Logger) {
        self.service = service
        self.connectTimeout = connectTimeout
        self.logger = logger
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        websocket = connection
        // The service's `decide` admitted only requests that name a backend, so this cannot fail; if it did, the
        // connection is closed rather than sent anywhere.
        guard case .success(let backend) = service.backend(for: connection.request) else {
            return connection.close(code: .policyViolation, reason: "no allowed backend")
        }
        host = backend.host
        port = backend.port
        connection.setReadingPaused(true) // until the backend is there
        // The backend channel's loop is the WebSocket's (the bootstrap's whole group), where this handler lives.
        let onLoop = NIOLoopBound(self, eventLoop: connection.eventLoop)
        ClientBootstrap(group: connection.eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(BackendHandler(proxy: onLoop.value))
                }
            }
            .connect(host: host, port: port)
            .hop(to: connection.eventLoop)
            .assumeIsolated()
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    guard !self.closed else { return channel.close(promise: nil) }
                    self.backend = channel
                    for bytes in self.early { channel.write(bytes, promise: nil) }
                    self.early.removeAll()
                    channel.flush()
                    connection.setReadingPaused(false)
                case .failure(let error):
                    self.logger.warning("TCP backend unreachable", metadata: [
                        "backend": "\(self.host):\(self.port)", "error": "\(error)", "path": "\(connection.request.path)",
                    ])
                    connection.close(code: .badGateway, reason: "backend unreachable")
                }
            }
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        guard let backend else { return early.append(message.data) }
        backend.writeAndFlush(message.data, promise: nil)
        if !backend.isWritable { connection.setReadingPaused(true) }
    }

    func connectionWritabilityDidChange(_ connection: any WebSocketConnection) {
        // The client caught up: take from the backend again (or stop while it is behind).
        backend?.setOption(.autoRead, value: connection.isWritable).whenFailure { _ in }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        closed = true
        backend?.close(promise: nil)
        websocket = nil
    }

    // MARK: Backend events (on the same event loop)

    fileprivate func backendRead(_ bytes: ByteBuffer) {
        guard let websocket else { return }
        websocket.send(.binary(bytes))
        if !websocket.isWritable { backend?.setOption(.autoRead, value: false).whenFailure { _ in } }
    }

    fileprivate func backendWritabilityChanged(_ writable: Bool) {
        if writable { websocket?.setReadingPaused(false) }
    }

    fileprivate func backendClosed() {
        backend = nil
        guard !closed else { return }
        websocket?.close(code: .normalClosure, reason: "backend closed the connection")
    }
}

private final class BackendHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    private let proxy: TCPProxyHandler

    init(proxy: TCPProxyHandler) { self.proxy = proxy }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        proxy.backendRead(unwrapInboundIn(data))
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        proxy.backendWritabilityChanged(context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        proxy.backendClosed()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}
