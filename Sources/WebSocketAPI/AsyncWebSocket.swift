import NIOConcurrencyHelpers
import NIOCore
import WebSocketEngine

/// The async face of a connection: inbound messages as an `AsyncSequence` with backpressure, async sends.
///
/// Built on the same `WebSocketConnection` the inline services use, through `AsyncWebSocket.Bridge`
/// (a `WebSocketHandler`). When the consumer falls behind by `highWatermark` messages the connection
/// stops reading from the socket, so a fast peer cannot make it buffer without bound.
public final class AsyncWebSocket: Sendable {
    public typealias Producer = NIOAsyncSequenceProducer<
        WebSocketMessage, NIOAsyncSequenceProducerBackPressureStrategies.HighLowWatermark, ReadDemand
    >

    public let connection: any WebSocketConnection
    /// Every message the peer sends, ending when the connection closes.
    public let messages: Messages
    /// The payload of every pong that arrives (the newest 64 kept while nobody reads), ending when the connection
    /// closes.
    public let pongs: AsyncStream<ByteBuffer>
    private let closed: EventLoopFuture<WebSocketCloseInfo>

    init(connection: any WebSocketConnection, messages: Messages, pongs: AsyncStream<ByteBuffer>,
         closed: EventLoopFuture<WebSocketCloseInfo>) {
        self.connection = connection
        self.messages = messages
        self.pongs = pongs
        self.closed = closed
    }

    public var request: WebSocketRequest { connection.request }
    public var subprotocol: String? { connection.request.subprotocol }

    /// Sends a message; returns once it was handed to the socket.
    public func send(_ message: WebSocketMessage) async throws {
        let promise = connection.eventLoop.makePromise(of: Void.self)
        connection.send(message, promise: promise)
        try await promise.futureResult.get()
    }

    public func send(text: String) async throws { try await send(.text(text)) }
    public func send(binary: ByteBuffer) async throws { try await send(.binary(binary)) }

    /// Sends a ping; its pong, if the peer answers, arrives in `pongs`.
    public func ping(_ payload: ByteBuffer = ByteBuffer()) { connection.ping(payload) }

    /// Starts the close handshake and waits until the connection is closed.
    @discardableResult
    public func close(code: CloseCode = .normalClosure, reason: String = "") async -> WebSocketCloseInfo {
        connection.close(code: code, reason: reason)
        return await closeInfo()
    }

    /// Waits until the connection is closed and says how.
    public func closeInfo() async -> WebSocketCloseInfo {
        // `closed` never fails: the bridge only ever succeeds it.
        (try? await closed.get()) ?? WebSocketCloseInfo(code: 1006, reason: "", wasClean: false)
    }

    /// The inbound message sequence.
    public struct Messages: AsyncSequence, Sendable {
        public typealias Element = WebSocketMessage
        let producer: Producer

        let demand: ReadDemand

        public struct AsyncIterator: AsyncIteratorProtocol {
            var inner: Producer.AsyncIterator
            let demand: ReadDemand
            /// Whether the consumer holds a message from the previous call: asking again means it is done with it.
            var holding = false

            public mutating func next() async -> WebSocketMessage? {
                if holding {
                    holding = false
                    demand.finishedOne()
                }
                let message = await inner.next()
                holding = message != nil
                return message
            }
        }

        public func makeAsyncIterator() -> AsyncIterator {
            AsyncIterator(inner: producer.makeAsyncIterator(), demand: demand)
        }
    }

    /// Turns the producer's demand into reading or not reading from the socket.
    public final class ReadDemand: NIOAsyncSequenceProducerDelegate, Sendable {
        let connection = NIOLockedValueBox<(any WebSocketConnection)?>(nil)
        /// Messages delivered whose processing the consumer has not finished.
        let unfinished = NIOLockedValueBox(0)

        func finishedOne() {
            let left = unfinished.withLockedValue { count -> Int in
                count -= 1
                return count
            }
            if left == 0 { connection.withLockedValue { $0 }?.inboundDidDrain() }
        }

        public func produceMore() {
            connection.withLockedValue { $0 }?.setReadingPaused(false)
        }

        public func didTerminate() {
            // The consumer stopped listening: drop nothing on the floor silently, close the connection.
            connection.withLockedValue { $0 }?.close(code: .goingAway, reason: "")
        }
    }

    /// The `WebSocketHandler` that feeds an `AsyncWebSocket`. Create it before the connection opens;
    /// `opened` yields the `AsyncWebSocket` when it does.
    public final class Bridge: WebSocketHandler, @unchecked Sendable {
        // @unchecked: every stored property is either immutable and Sendable, or touched only on the
        // connection's event loop (the `WebSocketHandler` contract).
        private let demand = ReadDemand()
        private let source: Producer.Source
        private let producer: Producer
        private let closedPromise: EventLoopPromise<WebSocketCloseInfo>
        private let pongs: AsyncStream<ByteBuffer>
        private let pongSink: AsyncStream<ByteBuffer>.Continuation
        public let opened: EventLoopPromise<AsyncWebSocket>

        public init(eventLoop: any EventLoop, highWatermark: Int = 16) {
            let made = Producer.makeSequence(
                elementType: WebSocketMessage.self,
                backPressureStrategy: .init(lowWatermark: max(1, highWatermark / 4), highWatermark: highWatermark),
                finishOnDeinit: false,
                delegate: demand
            )
            source = made.source
            producer = made.sequence
            closedPromise = eventLoop.makePromise()
            opened = eventLoop.makePromise()
            (pongs, pongSink) = AsyncStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .bufferingNewest(64))
        }

        public func connectionDidOpen(_ connection: any WebSocketConnection) {
            demand.connection.withLockedValue { $0 = connection }
            opened.succeed(AsyncWebSocket(connection: connection, messages: Messages(producer: producer, demand: demand),
                                          pongs: pongs, closed: closedPromise.futureResult))
        }

        public var hasUnfinishedInbound: Bool { demand.unfinished.withLockedValue { $0 } > 0 }

        public func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
            demand.unfinished.withLockedValue { $0 += 1 }
            if case .stopProducing = source.yield(message) {
                connection.setReadingPaused(true)
            }
        }

        public func connection(_ connection: any WebSocketConnection, didReceivePong payload: ByteBuffer) {
            pongSink.yield(payload)
        }

        public func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
            source.finish()
            pongSink.finish()
            demand.connection.withLockedValue { $0 = nil }
            closedPromise.succeed(info)
        }

        /// Called by a transport when the connection failed before opening.
        public func connectionFailed(_ error: any Error) {
            source.finish()
            pongSink.finish()
            opened.fail(error)
            closedPromise.succeed(WebSocketCloseInfo(code: 1006, reason: "\(error)", wasClean: false))
        }
    }
}
