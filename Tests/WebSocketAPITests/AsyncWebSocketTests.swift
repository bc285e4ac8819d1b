import NIOCore
import NIOPosix
import Testing
import WebSocketAPI
import WebSocketAPITestSupport
import WebSocketEngine

/// `AsyncWebSocket` over a `RecordingConnection`: the bridge is driven on a real event loop the way a
/// transport drives a handler, and the test consumes `messages` as an application would.
@Suite struct AsyncWebSocketTests {
    /// A bridge opened on a connection, with helpers that call it on the connection's loop.
    /// `@unchecked Sendable`: the bridge's handler callbacks run only inside tasks submitted to the loop.
    final class Opened: @unchecked Sendable {
        let connection: RecordingConnection
        let bridge: AsyncWebSocket.Bridge
        let socket: AsyncWebSocket

        init(on loop: any EventLoop, highWatermark: Int = 16) async throws {
            let connection = RecordingConnection(eventLoop: loop)
            let bridge = AsyncWebSocket.Bridge(eventLoop: loop, highWatermark: highWatermark)
            self.connection = connection
            self.bridge = bridge
            try await loop.submit { bridge.connectionDidOpen(connection) }.get()
            socket = try await bridge.opened.futureResult.get()
        }

        /// The peer sent `message`.
        func deliver(_ message: WebSocketMessage) async throws {
            try await connection.eventLoop.submit { self.bridge.connection(self.connection, didReceive: message) }.get()
        }

        private var ended = false

        /// The connection ended (once: a transport reports the end of a connection once).
        func end(_ info: WebSocketCloseInfo = WebSocketCloseInfo(code: 1000, reason: "", wasClean: true)) async throws {
            try await connection.eventLoop.submit {
                guard !self.ended else { return }
                self.ended = true
                self.bridge.connectionDidClose(self.connection, info: info)
            }.get()
        }

        func unfinished() async throws -> Bool {
            try await connection.eventLoop.submit { self.bridge.hasUnfinishedInbound }.get()
        }
    }

    static func withLoop(_ body: (any EventLoop) async throws -> Void) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        do {
            try await body(group.next())
            try await group.shutdownGracefully()
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Runs `body` on a freshly opened bridge and ends the connection afterwards if `body` did not, as a
    /// transport always does (NIO's leak check fails a close promise nobody completed).
    static func withOpened(highWatermark: Int = 16, _ body: (Opened) async throws -> Void) async throws {
        try await withLoop { loop in
            let ws = try await Opened(on: loop, highWatermark: highWatermark)
            do {
                try await body(ws)
                try await ws.end()
            } catch {
                try? await ws.end()
                throw error
            }
        }
    }

    /// Polls `condition` for up to two seconds; the consumer side runs on other threads.
    static func eventually(_ condition: () -> Bool) async throws -> Bool {
        for _ in 0..<200 {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return condition()
    }

    @Test func readingPausesAtTheHighWatermarkAndResumesWhenTheConsumerCatchesUp() async throws {
        try await Self.withOpened(highWatermark: 4) { ws in
            for n in 1...3 { try await ws.deliver(.text("\(n)")) }
            #expect(ws.connection.readPauses.isEmpty, "three behind of four: still reading")
            try await ws.deliver(.text("4"))
            #expect(ws.connection.readPauses == [true], "four behind: reading stops")

            var messages = ws.socket.messages.makeAsyncIterator()
            var received: [String] = []
            for _ in 1...3 { received.append(try #require(await messages.next()).text) }
            #expect(ws.connection.readPauses == [true], "above the low watermark (1): still paused")
            received.append(try #require(await messages.next()).text)
            #expect(received == ["1", "2", "3", "4"])
            #expect(try await Self.eventually { ws.connection.readPauses == [true, false] }, "caught up: reading resumes")
        }
    }

    @Test func saysInboundDrainedOnlyWhenTheConsumerAsksForMoreAfterTheLastMessage() async throws {
        try await Self.withOpened { ws in
            try await ws.deliver(.text("one"))
            #expect(try await ws.unfinished())

            var messages = ws.socket.messages.makeAsyncIterator()
            #expect(await messages.next()?.text == "one")
            #expect(try await ws.unfinished(), "the consumer still holds the message it was given")
            #expect(ws.connection.drains == 0)

            // Asking for the next message means the consumer is done with "one": the bridge is drained while
            // the consumer waits, before "two" arrives.
            let drainsWhenTwoArrived = ws.connection.eventLoop.scheduleTask(in: .milliseconds(100)) {
                let drains = ws.connection.drains
                ws.bridge.connection(ws.connection, didReceive: .text("two"))
                return drains
            }
            #expect(await messages.next()?.text == "two")
            #expect(try await drainsWhenTwoArrived.futureResult.get() == 1)
            #expect(ws.connection.drains == 1)
            #expect(try await ws.unfinished(), "now it holds \"two\"")
        }
    }

    @Test func sendCompletesWhenTheConnectionTookTheMessage() async throws {
        try await Self.withOpened { ws in
            try await ws.socket.send(text: "up")
            try await ws.socket.send(binary: ByteBuffer(bytes: [9, 8]))
            #expect(ws.connection.sentMessages == [.text("up"), .binary([9, 8] as [UInt8])])
        }
    }

    @Test func theSequenceEndsWithTheConnectionAndReportsHowItClosed() async throws {
        try await Self.withOpened { ws in
            try await ws.deliver(.binary([1] as [UInt8]))
            let info = WebSocketCloseInfo(code: 1001, reason: "bye", wasClean: true)
            try await ws.end(info)
            var received: [WebSocketMessage] = []
            for await message in ws.socket.messages { received.append(message) }
            #expect(received == [.binary([1] as [UInt8])], "messages delivered before the close are still read")
            #expect(await ws.socket.closeInfo() == info)
        }
    }

    @Test func closeAsksTheConnectionToCloseAndWaitsForTheEnd() async throws {
        try await Self.withOpened { ws in
            let closing = Task { await ws.socket.close(code: .policyViolation, reason: "no") }
            #expect(try await Self.eventually { ws.connection.closes == [.init(code: .policyViolation, reason: "no")] })
            let info = WebSocketCloseInfo(code: 1008, reason: "no", wasClean: true)
            try await ws.end(info)
            #expect(await closing.value == info)
        }
    }

    @Test func aConnectionThatFailsBeforeOpeningFailsOpened() async throws {
        try await Self.withLoop { loop in
            struct Refused: Error {}
            let bridge = AsyncWebSocket.Bridge(eventLoop: loop)
            try await loop.submit { bridge.connectionFailed(Refused()) }.get()
            await #expect(throws: Refused.self) { try await bridge.opened.futureResult.get() }
        }
    }
}
