import Foundation
import NIOCore
import Testing
@testable import WebSocketEngine

/// The hixie-75/76 engine: the seeds' byte sequences, draft-76's challenge examples, framing, and both sides
/// of the handshake against each other.
@Suite struct HixieTests {
    static func hex(_ s: String) -> [UInt8] {
        s.split(separator: " ").map { UInt8($0, radix: 16)! }
    }

    // MARK: Handshake bytes from the seed

    @Test func clientRequestIsSeedSection41ByteForByte() throws {
        var rng = SplitMix64(seed: 1)
        let url = try WebSocketURL(parsing: "ws://Example.COM/demo?x=1")
        let hs = HixieClientHandshake(draft: .hixie75, url: url, origin: "HTTP://Example.com", generator: &rng)
        // Steps 5–10: "GET ", the resource name, the fixed bytes, Host, Origin, blank line.
        var expected = Self.hex("47 45 54 20") + Array("/demo?x=1".utf8)
        expected += Self.hex("""
            20 48 54 54 50 2F 31 2E 31 0D 0A 55 70 67 72 61 64 65 3A 20 57 65 62 53 6F 63 6B 65 74 0D 0A 43 \
            6F 6E 6E 65 63 74 69 6F 6E 3A 20 55 70 67 72 61 64 65 0D 0A
            """)
        expected += Self.hex("48 6F 73 74 3A 20") + Array("example.com".utf8) + [0x0D, 0x0A]
        expected += Self.hex("4F 72 69 67 69 6E 3A 20") + Array("http://example.com".utf8) + [0x0D, 0x0A]
        expected += [0x0D, 0x0A]
        #expect(hs.request == expected)

        let withProtocol = HixieClientHandshake(draft: .hixie75, url: try WebSocketURL(parsing: "wss://h:8443/"), origin: "null",
                                                subprotocol: "chat", extraHeaders: [("Cookie", "a=b")], generator: &rng)
        #expect(String(decoding: withProtocol.request, as: UTF8.self) == "GET / HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
                + "Host: h:8443\r\nOrigin: null\r\n"
                + String(decoding: Self.hex("57 65 62 53 6F 63 6B 65 74 2D 50 72 6F 74 6F 63 6F 6C 3A 20"), as: UTF8.self)
                + "chat\r\nCookie: a=b\r\n\r\n")
    }

    @Test func serverResponseStartsWithSeedSection51Bytes() throws {
        let head = try #require(parseHead("GET /demo HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\nHost: example.com\r\n"
                                          + "Origin: http://example.com\r\nWebSocket-Protocol: sample\r\n\r\n"))
        #expect(HixieServerHandshake.draft(of: head) == .hixie75)
        let request = try HixieServerHandshake.validate(head, draft: .hixie75).get()
        let response = Array(HixieServerHandshake.response(for: request, secure: false, subprotocol: "sample", key3: nil).readableBytesView)
        let minimal = Self.hex("""
            48 54 54 50 2F 31 2E 31 20 31 30 31 20 57 65 62 20 53 6F 63 6B 65 74 20 50 72 6F 74 6F 63 6F 6C \
            20 48 61 6E 64 73 68 61 6B 65 0D 0A 55 70 67 72 61 64 65 3A 20 57 65 62 53 6F 63 6B 65 74 0D 0A \
            43 6F 6E 6E 65 63 74 69 6F 6E 3A 20 55 70 67 72 61 64 65 0D 0A
            """)
        #expect(Array(response.prefix(minimal.count)) == minimal)
        #expect(String(decoding: response.dropFirst(minimal.count), as: UTF8.self)
                == "WebSocket-Origin: http://example.com\r\nWebSocket-Location: ws://example.com/demo\r\nWebSocket-Protocol: sample\r\n\r\n")
        // Over TLS the location is wss:// and the port stays as the client's Host carried it.
        var secure = request
        secure.host = "example.com:8443"
        #expect(HixieServerHandshake.location(for: secure, secure: true) == "wss://example.com:8443/demo")
    }

    // MARK: hixie-76 key challenge

    @Test func draft76ChallengeExamples() throws {
        // draft-76 §1.3 and §5.2's examples.
        for (key1, key2, key3, answer) in [
            ("4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00", "^n:ds[4U", "8jKS'y:G*Co,Wxa-"),
            ("18x 6]8vM;54 *(5:  {   U1]8  z [  8", "1_ tx7X d  <  nw  334J702) 7]o}` 0", "Tm[K T2u", "fQJ,fN/4F4!~K~MH"),
        ] {
            let n1 = try HixieKey.number(of: key1).get()
            let n2 = try HixieKey.number(of: key2).get()
            #expect(HixieKey.answer(number1: n1, number2: n2, key3: Array(key3.utf8)) == Array(answer.utf8))
        }
        #expect(try HixieKey.number(of: "18x 6]8vM;54 *(5:  {   U1]8  z [  8").get() == 155_712_099)
    }

    @Test func badKeysAreRefused() {
        #expect(HixieKey.number(of: "12345") == .failure(.noSpaces))
        #expect(HixieKey.number(of: "a b") == .failure(.noDigits))
        #expect(HixieKey.number(of: "1 0 1") == .failure(.notAMultiple(digits: 101, spaces: 2)))
        #expect(HixieKey.number(of: "99999999999999999999999 1") == .failure(.tooLarge))
        #expect(HixieKey.number(of: "8589934592 ") == .failure(.tooLarge)) // 2^33 / 1
    }

    @Test func generatedKeysFollowTheDraftsRecipe() throws {
        var rng = SplitMix64(seed: 7)
        for _ in 0..<2000 {
            let (key, number) = HixieKey.make(using: &rng)
            #expect(try HixieKey.number(of: key).get() == number)
            #expect(key.first != " " && key.last != " ")
            #expect(key.unicodeScalars.allSatisfy { (0x20...0x7E).contains($0.value) })
        }
    }

    // MARK: Both sides of the handshake against each other

    func roundTrip(_ draft: HixieDraft, url: String, origin: String = "http://app.example", subprotocol: String? = nil,
                   split: Int? = nil, tamper: (inout [UInt8]) -> Void = { _ in }) throws -> (HixieClientHandshake.Step, [UInt8]) {
        var rng = SplitMix64(seed: 3)
        let wsURL = try WebSocketURL(parsing: url)
        var client = HixieClientHandshake(draft: draft, url: wsURL, origin: origin, subprotocol: subprotocol, generator: &rng)
        var parser = HTTPHeadParser(limits: .init())
        guard case .complete(let head, let length) = client.request.withUnsafeBytes({ parser.parseRequest($0) }) else {
            Issue.record("the server could not parse the client's request")
            return (.failed("parse"), [])
        }
        #expect(HixieServerHandshake.draft(of: head) == draft)
        let request = try HixieServerHandshake.validate(head, draft: draft).get()
        let key3 = Array(client.request[length...])
        #expect(key3.count == (draft == .hixie76 ? 8 : 0))
        var response = Array(HixieServerHandshake.response(for: request, secure: wsURL.secure, subprotocol: request.subprotocol,
                                                           key3: key3).readableBytesView)
        tamper(&response)
        let frames: [UInt8] = [0x00, 0x68, 0x69, 0xFF]
        let bytes = response + frames
        var step = HixieClientHandshake.Step.needMoreData
        var input = ByteBuffer()
        for chunk in bytes.chunks(of: split ?? bytes.count) {
            input.writeBytes(chunk)
            step = client.read(&input)
            if step != .needMoreData { break }
        }
        return (step, Array(input.readableBytesView))
    }

    @Test func bothDraftsEstablishWhateverTheSplit() throws {
        for draft in HixieDraft.allCases {
            for split in [1, 2, 7, 45, 1000] {
                let (step, rest) = try roundTrip(draft, url: "ws://127.0.0.1:8080/chat?room=1", subprotocol: "chat", split: split)
                guard case .established = step else {
                    Issue.record("\(draft) split \(split): \(step)")
                    continue
                }
                // Bytes after the handshake are left for the framing.
                #expect(Array([0x00, 0x68, 0x69, 0xFF].prefix(rest.count)) == rest || rest.isEmpty || split == 1000)
            }
        }
        let (step, rest) = try roundTrip(.hixie76, url: "wss://example.com/")
        #expect({ if case .established = step { return true } else { return false } }())
        #expect(rest == [0x00, 0x68, 0x69, 0xFF])
    }

    @Test func clientRefusesWhatStep23Refuses() throws {
        func failure(_ draft: HixieDraft, _ tamper: @escaping (inout [UInt8]) -> Void) throws -> String? {
            let (step, _) = try roundTrip(draft, url: "ws://example.com/demo", subprotocol: "chat", tamper: tamper)
            if case .failed(let why) = step { return why }
            return nil
        }
        func replace(_ from: String, _ to: String) -> (inout [UInt8]) -> Void {
            { bytes in
                let text = String(decoding: bytes, as: UTF8.self)
                bytes = Array(text.replacingOccurrences(of: from, with: to).utf8)
            }
        }
        #expect(try failure(.hixie75, replace("HTTP/1.1", "HTTP/1.0"))?.contains("not exactly") == true)
        #expect(try failure(.hixie75, replace("101 Web Socket", "200 Web Socket"))?.contains("refused") == true)
        #expect(try failure(.hixie75, replace("Upgrade: WebSocket", "Upgrade: websocket"))?.contains("exact") == true)
        #expect(try failure(.hixie75, replace("http://app.example", "http://evil.example"))?.contains("origin") == true)
        #expect(try failure(.hixie75, replace("ws://example.com/demo", "ws://example.com/other"))?.contains("location") == true)
        #expect(try failure(.hixie75, replace("WebSocket-Protocol: chat", "WebSocket-Protocol: other"))?.contains("subprotocol") == true)
        #expect(try failure(.hixie75, replace("WebSocket-Origin:", "X: y\r\nWebSocket-Origin:")) == nil) // other headers are ignored
        #expect(try failure(.hixie75, replace("WebSocket-Origin: http://app.example\r\n",
                                               "WebSocket-Origin: http://app.example\r\nwebsocket-origin: http://app.example\r\n"))?
                    .contains("exactly one") == true)
        #expect(try failure(.hixie75, replace("\r\nWebSocket-Location", "\nWebSocket-Location")) != nil)
        #expect(try failure(.hixie76, replace("Upgrade: WebSocket", "Upgrade: websocket"))?.contains("Upgrade") == true)
        #expect(try failure(.hixie76, { bytes in bytes[bytes.count - 1] ^= 1 })?.contains("challenge") == true)
        #expect(try failure(.hixie76, replace("HTTP/1.1 101", "HTTP/1.1 407"))?.contains("407") == true)
    }

    @Test func cookiesAreHandedToTheCaller() throws {
        let (step, _) = try roundTrip(.hixie75, url: "ws://example.com/", tamper: { bytes in
            let text = String(decoding: bytes, as: UTF8.self)
            bytes = Array(text.replacingOccurrences(of: "\r\n\r\n", with: "\r\nSet-Cookie: id=42\r\nSET-COOKIE2: v=1\r\n\r\n").utf8)
        })
        guard case .established(let response) = step else { Issue.record("\(step)"); return }
        #expect(response.cookies == ["id=42", "v=1"])
    }

    @Test func serverTellsTheDraftsApartAndRefusesBadKeys() throws {
        let base = "GET /e HTTP/1.1\r\nHost: h\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n"
        let rfc = try #require(parseHead(base + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"))
        #expect(HixieServerHandshake.draft(of: rfc) == nil)
        let v76 = try #require(parseHead(base + "Sec-WebSocket-Key1: 1 0 1\r\nSec-WebSocket-Key2: 2 2\r\n\r\n"))
        #expect(HixieServerHandshake.draft(of: v76) == .hixie76)
        guard case .failure(let why) = HixieServerHandshake.validate(v76, draft: .hixie76) else { Issue.record("accepted"); return }
        #expect(why.status == 400 && why.detail.contains("not a multiple"))
        let noSpaces = try #require(parseHead(base + "Sec-WebSocket-Key1: 12\r\nSec-WebSocket-Key2: 2 2\r\n\r\n"))
        #expect((try? HixieServerHandshake.validate(noSpaces, draft: .hixie76).get()) == nil)
        let oneKey = try #require(parseHead(base + "Sec-WebSocket-Key2: 2 2\r\n\r\n"))
        #expect((try? HixieServerHandshake.validate(oneKey, draft: .hixie76).get()) == nil)
        let lengthNot8 = try #require(parseHead(base + "Sec-WebSocket-Key1: 1 1\r\nSec-WebSocket-Key2: 2 2\r\nContent-Length: 9\r\n\r\n"))
        #expect((try? HixieServerHandshake.validate(lengthNot8, draft: .hixie76).get()) == nil)
        let noHost = try #require(parseHead("GET /e HTTP/1.1\r\nUpgrade: WebSocket\r\nConnection: Upgrade\r\n\r\n"))
        #expect((try? HixieServerHandshake.validate(noHost, draft: .hixie75).get()) == nil)
        let plain = try #require(parseHead("GET /e HTTP/1.1\r\nHost: h\r\n\r\n"))
        #expect(HixieServerHandshake.draft(of: plain) == nil)
    }

    // MARK: Framing

    @Test func textFramesWhateverTheSplit() {
        let wire: [UInt8] = [0x00] + Array("héllo".utf8) + [0xFF, 0x00, 0xFF, 0x00] + Array("wörld 😀".utf8) + [0xFF]
        for split in 1...wire.count {
            var c = HixieConnection(draft: .hixie76, role: .server)
            let (actions, output) = drive(&c, wire.chunks(of: split).map(Array.init))
            #expect(actions == [text("héllo"), text(""), text("wörld 😀")], "split \(split)")
            #expect(output.isEmpty)
        }
    }

    @Test func lengthPrefixedAndUnknownFramesAreSkipped() {
        // 0x80 with length 130 (0x81 0x02), then 130 bytes; an unknown text type 0x01 up to its 0xFF; then text.
        let wire: [UInt8] = [0x80, 0x81, 0x02] + [UInt8](repeating: 0xAA, count: 130) + [0x01, 0x41, 0x42, 0xFF] + [0x00, 0x43, 0xFF]
        for split in [1, 3, 50, wire.count] {
            var c = HixieConnection(draft: .hixie75, role: .server)
            #expect(drive(&c, wire.chunks(of: split).map(Array.init)).actions == [text("C")])
        }
        // On hixie-75, 0xFF 0x00 is only an empty skipped frame.
        var v75 = HixieConnection(draft: .hixie75, role: .server)
        #expect(drive(&v75, [0xFF, 0x00, 0x00, 0x41, 0xFF]).actions == [text("A")])
    }

    @Test func hixie76ClosingHandshake() {
        var server = HixieConnection(draft: .hixie76, role: .server)
        let (actions, output) = drive(&server, [0x00, 0x41, 0xFF, 0xFF, 0x00, 0x00, 0x42, 0xFF])
        #expect(actions == [text("A"), .closed(CloseFrame(code: nil), initiatedByPeer: true)])
        #expect(output == [0xFF, 0x00]) // answered; nothing after the close is read
        #expect(server.state == .closed)

        var client = HixieConnection(draft: .hixie76, role: .client)
        var out = ByteBuffer()
        #expect(client.writeClose(CloseFrame(code: .normalClosure), into: &out) == .written)
        #expect(Array(out.readableBytesView) == [0xFF, 0x00])
        #expect(!client.canSendMessages)
        #expect(drive(&client, [0xFF, 0x00]) == ([.closed(CloseFrame(code: nil), initiatedByPeer: false)], []))

        var v75 = HixieConnection(draft: .hixie75, role: .server)
        var none = ByteBuffer()
        #expect(v75.writeClose(CloseFrame(code: .normalClosure), into: &none) == .written && none.readableBytes == 0 && v75.closesByDroppingConnection)
    }

    @Test func limitsBoundEveryFrame() {
        var text = HixieConnection(draft: .hixie76, role: .server, configuration: .init(maxMessageSize: 10))
        #expect(drive(&text, [[0x00] + [UInt8](repeating: 0x41, count: 6), [UInt8](repeating: 0x41, count: 6)]).actions
                == [.failed(.messageTooBig, reason: "text frame longer than 10 bytes")])
        var skipped = HixieConnection(draft: .hixie76, role: .server, configuration: .init(maxMessageSize: 10))
        #expect(drive(&skipped, [0x80, 0x0B]).actions == [.failed(.messageTooBig, reason: "length-prefixed frame longer than 10 bytes")])
        var endless = HixieConnection(draft: .hixie75, role: .server, configuration: .init(maxMessageSize: 1 << 40))
        #expect(drive(&endless, [0x80] + [UInt8](repeating: 0xFF, count: 9)).actions.count == 1)
        var unknown = HixieConnection(draft: .hixie75, role: .server, configuration: .init(maxMessageSize: 10))
        #expect(drive(&unknown, [0x05] + [UInt8](repeating: 0x41, count: 11)).actions.count == 1)
    }

    @Test func theFirstBadByteDecidesWhateverTheReads() {
        // Invalid UTF-8 past the limit: the frame is too long first (1009), in one read or many (found by FuzzHixie).
        let late: [UInt8] = [0x00] + [UInt8](repeating: 0x78, count: 20) + [0x80]
        // Invalid UTF-8 before the limit: 1007, even when the frame also runs past the limit.
        let early: [UInt8] = [0x00, 0x78, 0x80] + [UInt8](repeating: 0x78, count: 20)
        for split in [1, 3, late.count] {
            var a = HixieConnection(draft: .hixie76, role: .server, configuration: .init(maxMessageSize: 10))
            #expect(drive(&a, late.chunks(of: split).map(Array.init)).actions.first == .failed(.messageTooBig, reason: "text frame longer than 10 bytes"))
            var b = HixieConnection(draft: .hixie76, role: .server, configuration: .init(maxMessageSize: 10))
            #expect(drive(&b, early.chunks(of: split).map(Array.init)).actions.first == .failed(.invalidFramePayloadData, reason: "text frame is not valid UTF-8"))
        }
    }

    @Test func invalidUTF8FailsAServerAndIsReplacedForAClient() {
        var server = HixieConnection(draft: .hixie76, role: .server)
        #expect(drive(&server, [0x00, 0x41, 0xC3, 0x28, 0xFF]).actions == [.failed(.invalidFramePayloadData, reason: "text frame is not valid UTF-8")])
        var truncated = HixieConnection(draft: .hixie76, role: .server)
        #expect(drive(&truncated, [0x00, 0x41, 0xC3, 0xFF]).actions
                == [.failed(.invalidFramePayloadData, reason: "text frame ends inside a UTF-8 sequence")])
        var client = HixieConnection(draft: .hixie75, role: .client)
        #expect(drive(&client, [0x00, 0x41, 0xC3, 0x28, 0xFF]).actions == [text("A\u{FFFD}(")])
    }

    @Test func onlyTextAndUTF8BinaryCanBeSent() {
        var c = HixieConnection(draft: .hixie75, role: .server)
        var out = ByteBuffer()
        #expect(c.writeMessage(.text, payload: ByteBuffer(string: "hi"), into: &out) == .written)
        #expect(c.writeMessage(.binary, payload: ByteBuffer(string: "ok"), into: &out) == .written)
        #expect(c.writeMessage(.binary, payload: ByteBuffer(bytes: [0x00, 0xFF, 0x80]), into: &out) == .refused(.notRepresentable))
        #expect(Array(out.readableBytesView) == [0x00, 0x68, 0x69, 0xFF, 0x00, 0x6F, 0x6B, 0xFF])
        #expect(HixieConnection.encodeShared(.binary, payload: ByteBuffer(bytes: [0xFE])) == nil)
    }
}

func parseHead(_ text: String) -> HTTPRequestHead? {
    var parser = HTTPHeadParser(limits: .init())
    guard case .complete(let head, _) = Array(text.utf8).withUnsafeBytes({ parser.parseRequest($0) }) else { return nil }
    return head
}

extension Array {
    func chunks(of size: Int) -> [ArraySlice<Element>] {
        stride(from: 0, to: count, by: Swift.max(size, 1)).map { self[$0..<Swift.min($0 + Swift.max(size, 1), count)] }
    }
}
