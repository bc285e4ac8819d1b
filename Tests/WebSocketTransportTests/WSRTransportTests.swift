import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import RTMPEngine
import TestCaptures
import Testing
import WebSocketAPI
import WebSocketEngine
import WSGateServices
@testable import WebSocketTransport

/// WSR on the gateway's own port: the create request, and the real Flash 11 bytes replayed into a session.
@Suite struct WSRTransportTests {
    /// Records every message its connections receive.
    final class Recorder: WebSocketService, WebSocketHandler, @unchecked Sendable {
        let received = NIOLockedValueBox<[[UInt8]]>([])
        let wires = NIOLockedValueBox<[WebSocketWire]>([])
        func makeHandler() -> any WebSocketHandler { self }
        func connectionDidOpen(_ connection: any WebSocketConnection) { wires.withLockedValue { $0.append(connection.request.wire) } }
        let closes = NIOLockedValueBox<[WebSocketCloseInfo]>([])
        func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
            received.withLockedValue { $0.append(Array(message.data.readableBytesView)) }
        }
        func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
            closes.withLockedValue { $0.append(info) }
        }
    }

    /// The client's close sends `deleteStream` before half-closing: the service sees a WebSocket closed without a
    /// code (1005), not a dropped connection (1006), after every message sent before it.
    @Test func clientCloseIsACleanCloseForTheService() async throws {
        let recorder = Recorder()
        var router = ServiceRouter()
        router.mount(recorder, at: "/record")
        try await withServer(router: router) { port in
            let ws = try await WebSocketClient.connect(to: "wsr://127.0.0.1:\(port)/record")
            try await ws.send(text: "last words")
            await ws.close()
            for _ in 0..<200 where recorder.closes.withLockedValue({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
            #expect(recorder.received.withLockedValue { $0 } == [Array("last words".utf8)])
            #expect(recorder.closes.withLockedValue { $0.map(\.code) } == [1005])
        }
    }

    @Test func flashCaptureReachesTheServiceAsSeventeenMessages() async throws {
        let recorder = Recorder()
        var router = ServiceRouter()
        router.mount(recorder, at: "/proxy")
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.pingInterval = nil
        let server = try await WebSocketServer.start(configuration: configuration, router: router)
        let port = server.localAddress!.port!
        let tcUrl = "rtmp://localhost:8001/proxy?.kz=NnK36moHxczEotbVCEjNK9ciuOoOmDQA"
        server.wsrSessions.register(tcUrl: tcUrl, route: router.route(for: "/proxy")!,
                                    request: WebSocketRequest(path: "/proxy", wire: .wsr))
        let capture = try FlashCapture.afterHandshake()
        let handshake: [UInt8] = [0x03] + [UInt8](repeating: 0x11, count: 1536) + [UInt8](repeating: 0, count: 1536)
        let reply = try await rawExchange(port: port, handshake + capture, timeout: .seconds(2))
        #expect(reply.bytes.count > 3073 && reply.bytes[0] == 0x03)
        #expect(reply.ending == .stillOpen, "the gateway closed a session that did nothing wrong: \(reply)")
        let hello = Array("Hello, WebSocket!".utf8)
        let expected: [[UInt8]] = Array(repeating: hello, count: 5) + [Array("hello, wsr\n".utf8)] + Array(repeating: hello, count: 5)
            + [Array("returning\n".utf8), Array("\u{1b}[Dagain\n".utf8), Array("fame\n".utf8), hello, Array("newline\n".utf8), hello]
        #expect(recorder.received.withLockedValue { $0 } == expected)
        #expect(recorder.wires.withLockedValue { $0 } == [.wsr])
        try await server.close()
    }

    @Test func wsrClientEchoTextAndBinaryOneByteToOneMegabyte() async throws {
        try await withServer { port in
            let ws = try await WebSocketClient.connect(to: "wsr://127.0.0.1:\(port)/echo")
            #expect(ws.request.wire == .wsr)
            var replies = ws.messages.makeAsyncIterator()
            for size in [1, 125, 65536, 1 << 20] {
                let text = String(repeating: "w", count: size)
                try await ws.send(text: text)
                #expect(await replies.next() == .text(text))
                let binary = ByteBuffer(bytes: (0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31) })
                try await ws.send(binary: binary)
                #expect(await replies.next() == .binary(binary))
            }
            await ws.close()
        }
    }

    @Test func aWSRClientAndAnRFC6455ClientShareABroadcast() async throws {
        try await withServer { port in
            let wsr = try await WebSocketClient.connect(to: "wsr://127.0.0.1:\(port)/broadcast")
            let modern = try await WebSocketClient.connect(to: "ws://127.0.0.1:\(port)/broadcast")
            var inboxes = [wsr.messages.makeAsyncIterator(), modern.messages.makeAsyncIterator()]
            for (i, ws) in [wsr, modern].enumerated() {
                try await ws.send(text: "join \(i)")
                while await inboxes[i].next() != .text("join \(i)") {}
            }
            try await wsr.send(text: "from WSR")
            try await modern.send(text: "from 6455")
            for i in 0..<2 {
                var seen: Set<String> = []
                while !seen.isSuperset(of: ["from WSR", "from 6455"]) {
                    guard let m = await inboxes[i].next() else { break }
                    seen.insert(m.text)
                }
                #expect(seen.isSuperset(of: ["from WSR", "from 6455"]), "client \(i) saw \(seen)")
            }
            await wsr.close()
            await modern.close()
        }
    }

    /// wsr.md §1.4: a created session must be opened within the connect deadline. Later its URL is refused like
    /// any unknown one, and an RTMP connection that shook hands but never connected is closed at the deadline.
    @Test func sessionsExpireAtTheConnectDeadline() async throws {
        try await withServer(configure: { $0.wsrConnectDeadline = .milliseconds(300) }) { port in
            let created = try await rawExchange(port: port, Array(
                "POST /echo/;e/cr HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nX-WebSocket-Version: wsr-1.0\r\n\r\n".utf8)).text
            let url = try #require(created.components(separatedBy: "\r\n\r\n").last)
            #expect(url.hasPrefix("rtmp://127.0.0.1:\(port)/echo/"))
            try await Task.sleep(for: .milliseconds(600))

            var connect = ByteBuffer(bytes: [0x03] + [UInt8](repeating: 0, count: 3072)) // C0 C1 C2
            var body = ByteBuffer()
            AMFEncoder.encode([.string("connect"), .number(1), .object([("tcUrl", .string(url))])], into: &body)
            RTMPChunkWriter().write(RTMPMessage(chunkStreamID: 3, typeID: RTMPMessage.amf0Command, payload: body), into: &connect)
            let late = try await rawExchange(port: port, Array(connect.readableBytesView))
            #expect(late.closed, "\(late)")
            var reader = RTMPChunkReader()
            var replies = ByteBuffer(bytes: late.bytes.dropFirst(3073))
            var messages: [RTMPMessage] = []
            while case .success(let m)? = reader.next(&replies) { messages.append(m) }
            var decoder = AMFDecoder(try #require(messages.last).payload)
            let error = try decoder.decodeAll()
            #expect(error.first == .string("_error") && error.count == 4 && error[3]["code"] == .string("NetConnection.Connect.Rejected"))

            let start = ContinuousClock.now
            let silent = try await rawExchange(port: port, [0x03] + [UInt8](repeating: 0, count: 3072), timeout: .seconds(10))
            #expect(silent.closed && silent.bytes.count == 3073 + 16, "\(silent)") // S0 S1 S2 and the Set Chunk Size, then the close
            #expect(ContinuousClock.now - start < .seconds(5))
        }
    }

    /// Behind a load balancer the create names the node's advertised address, not the balancer's Host, and the
    /// session opens over RTMP under that URL.
    @Test func theCreateNamesTheAdvertisedAddress() async throws {
        try await withServer(configure: { $0.wsrAdvertisedAddress = "127.0.0.1:1935" }) { port in
            let created = try await rawExchange(port: port, Array(
                "POST /echo/;e/cr?room=7 HTTP/1.1\r\nHost: balancer.example:80\r\nX-WebSocket-Version: wsr-1.0\r\n\r\n".utf8)).text
            #expect(created.hasPrefix("HTTP/1.1 201 Created\r\n"))
            let url = try #require(created.components(separatedBy: "\r\n\r\n").last)
            #expect(url.hasPrefix("rtmp://127.0.0.1:1935/echo/") && url.hasSuffix("?room=7"), "\(url)")
            #expect(!url.contains("balancer.example"))
        }
    }

    @Test func createRequestAnswers201WithTheSessionURL() async throws {
        try await withServer { port in
            let ok = try await rawExchange(port: port, Array(
                "POST /echo/;e/cr?x=1 HTTP/1.1\r\nHost: localhost\r\nX-WebSocket-Version: wsr-1.0\r\nContent-Length: 0\r\n\r\n".utf8)).text
            #expect(ok.hasPrefix("HTTP/1.1 201 Created\r\n"))
            let body = ok.components(separatedBy: "\r\n\r\n").last ?? ""
            #expect(body.hasPrefix("rtmp://localhost:80/echo/") && body.hasSuffix("?x=1"))
            #expect(body.split(separator: "/").last?.split(separator: "?").first?.count == 32)
            let old = try await rawExchange(port: port, Array(
                "POST /echo/;e/cr HTTP/1.1\r\nHost: h:1\r\nX-WebSocket-Version: wsr-0.9\r\n\r\n".utf8)).text
            #expect(old.hasPrefix("HTTP/1.1 501 "))
            let none = try await rawExchange(port: port, Array(
                "POST /nowhere/;e/cr HTTP/1.1\r\nHost: h:1\r\nX-WebSocket-Version: wsr-1.0\r\n\r\n".utf8)).text
            #expect(none.hasPrefix("HTTP/1.1 404 "))
            // RTMP for a tcUrl nobody created: an `_error` NetConnection.Connect.Rejected, then the connection is closed.
            let unknown = try await rawExchange(port: port, [0x03] + [UInt8](repeating: 0, count: 3072)
                + (try FlashCapture.afterHandshake()).prefix(400), timeout: .seconds(3))
            #expect(unknown.closed, "\(unknown)")
            var refusal = ByteBuffer(bytes: unknown.bytes.dropFirst(3073)) // after S0 S1 S2
            var reader = RTMPChunkReader()
            var messages: [RTMPMessage] = []
            while case .success(let m)? = reader.next(&refusal) { messages.append(m) }
            #expect(messages.map(\.typeID) == [RTMPMessage.setChunkSize, RTMPMessage.amf0Command])
            var decoder = AMFDecoder(try #require(messages.last).payload)
            let error = try decoder.decodeAll()
            #expect(error.first == .string("_error") && error.count == 4 && error[3]["code"] == .string("NetConnection.Connect.Rejected"))
            #expect(refusal.readableBytes == 0) // nothing after it: closed
        }
    }
}
