import NIOCore
import WebSocketEngine
import WebSocketAPI
import WebSocketTransport

/// A load generator's connection whose handler the run reads figures from afterwards.
///
/// The handler is not `Sendable`: it is made on `eventLoop`, handed to the client there, and the run keeps only a
/// `NIOLoopBound` of it, so every later read (`onLoop`) is a hop the compiler checks rather than a promise in a
/// comment. Reading a handler's state off its loop — even just to find which loop to hop to — is the race this
/// replaces.
struct LoopBoundConnection<Handler: WebSocketHandler & SendableMetatype>: Sendable {
    let handler: NIOLoopBound<Handler>
    let connection: any WebSocketConnection

    /// Makes the handler on `eventLoop` with `makeHandler` and connects it to `url` from that loop.
    static func connect(to url: WebSocketURL, configuration: WebSocketClientConfiguration, eventLoop: any EventLoop,
                        makeHandler: @escaping @Sendable () -> Handler) async throws -> Self {
        let (handler, connected) = try await eventLoop.submit {
            let bound = NIOLoopBound(makeHandler(), eventLoop: eventLoop)
            // Sent to the connection on the loop both it and `bound` belong to.
            return (bound, WebSocketClient.connect(to: url, configuration: configuration, handler: bound.value, eventLoop: eventLoop))
        }.get()
        return Self(handler: handler, connection: try await connected.get())
    }

    /// Runs `body` with the handler on its loop and returns what it returns.
    func onLoop<Value: Sendable>(_ body: @escaping @Sendable (Handler) throws -> Value) async throws -> Value {
        try await handler.onLoop(body)
    }
}

extension NIOLoopBound {
    /// Runs `body` with the value on its loop and returns what it returns: how the run reads a handler's figures.
    func onLoop<Result: Sendable>(_ body: @escaping @Sendable (Value) throws -> Result) async throws -> Result {
        try await eventLoop.submit { try body(self.value) }.get()
    }
}
