import NIOCore
import NIOEmbedded
import Testing
import WebSocketAPI
import WebSocketAPITestSupport
import WSGateServices

/// `EchoService` through a `RecordingConnection`: what it sends back, and that it sends nothing else.
@Suite struct EchoServiceTests {
    @Test func textComesBackAsTextWithTheSameBytes() {
        let connection = RecordingConnection(eventLoop: EmbeddedEventLoop())
        let handler = EchoService().makeHandler()
        handler.connectionDidOpen(connection)
        handler.connection(connection, didReceive: .text("héllo"))
        #expect(connection.sentMessages == [.text("héllo")])
        #expect(connection.sentMessages.first?.kind == .text)
    }

    @Test func binaryComesBackAsBinary() {
        let connection = RecordingConnection(eventLoop: EmbeddedEventLoop())
        let handler = EchoService().makeHandler()
        handler.connectionDidOpen(connection)
        let payload: [UInt8] = [0x00, 0xFF, 0xC3, 0x28] // not UTF-8: must not be turned into text
        handler.connection(connection, didReceive: .binary(payload))
        #expect(connection.sentMessages.map(\.kind) == [.binary])
        #expect(connection.sentMessages.first.map { Array($0.data.readableBytesView) } == payload)
    }

    @Test func repliesInOrderOnlyToTheSenderAndNeverCloses() {
        let loop = EmbeddedEventLoop()
        let alice = RecordingConnection(eventLoop: loop)
        let bob = RecordingConnection(eventLoop: loop)
        let service = EchoService()
        let aliceHandler = service.makeHandler()
        let bobHandler = service.makeHandler()
        aliceHandler.connectionDidOpen(alice)
        bobHandler.connectionDidOpen(bob)
        for n in 1...3 { aliceHandler.connection(alice, didReceive: .text("\(n)")) }
        bobHandler.connection(bob, didReceive: .binary([7] as [UInt8]))
        #expect(alice.sentMessages == [.text("1"), .text("2"), .text("3")])
        #expect(bob.sentMessages == [.binary([7] as [UInt8])])
        aliceHandler.connectionDidClose(alice, info: WebSocketCloseInfo(code: 1000, reason: "", wasClean: true))
        #expect(alice.closes.isEmpty && bob.closes.isEmpty)
        #expect(alice.readPauses.isEmpty)
    }
}
