import NIOCore
import Testing
@testable import WebSocketEngine

/// permessage-deflate (RFC 7692): the RFC's byte examples, round trips, limits and framing rules.
@Suite struct PerMessageDeflateFramingTests {
    static let hello = Array("Hello".utf8)

    func client(_ p: PerMessageDeflate.Parameters = .init(), maxMessageSize: Int = 16 << 20) -> RFC6455Connection {
        RFC6455Connection(role: .client, configuration: .init(maxMessageSize: maxMessageSize),
                          compression: PerMessageDeflateCodec(parameters: p, role: .client, tuning: .init(minimumMessageSize: 0)))
    }

    func server(_ p: PerMessageDeflate.Parameters = .init(), maxMessageSize: Int = 16 << 20, tuning: PerMessageDeflate.Tuning = .init(minimumMessageSize: 0)) -> RFC6455Connection {
        RFC6455Connection(role: .server, configuration: .init(maxMessageSize: maxMessageSize),
                          compression: PerMessageDeflateCodec(parameters: p, role: .server, tuning: tuning))
    }

    /// RFC 7692 §7.2.3.1–§7.2.3.5, as a client reads them from a server.
    @Test(arguments: [
        ["c1 07 f2 48 cd c9 c9 07 00"],                                  // §7.2.3.1 one frame
        ["41 03 f2 48 cd", "80 04 c9 c9 07 00"],                          // §7.2.3.1 fragmented
        ["c1 0b 00 05 00 fa ff 48 65 6c 6c 6f 00"],                       // §7.2.3.3 stored block
        ["c1 08 f3 48 cd c9 c9 07 00 00"],                                // §7.2.3.4 BFINAL set
        ["c1 0d f2 48 05 00 00 00 ff ff ca c9 c9 07 00"],                 // §7.2.3.5 two blocks
    ])
    func rfcExamplesInflateToHello(frames: [String]) {
        var c = client()
        let wire = frames.flatMap { hexBytes($0) }
        #expect(drive(&c, wire).actions == [text("Hello")])
        // And split at every byte.
        for split in 0...wire.count {
            var c = client()
            #expect(drive(&c, [Array(wire[..<split]), Array(wire[split...])]).actions == [text("Hello")], "split \(split)")
        }
    }

    /// §7.2.3.2: the second "Hello" refers back into the first message's window.
    @Test func sharedWindowExampleNeedsContextTakeover() {
        var c = client()
        let wire = hexBytes("c1 07 f2 48 cd c9 c9 07 00") + hexBytes("c1 05 f2 00 11 00 00")
        #expect(drive(&c, wire).actions == [text("Hello"), text("Hello")])
    }

    /// The server writes exactly the RFC's bytes: with context takeover the second message is 5 bytes.
    @Test func serverWritesTheRFCBytes() {
        var s = server()
        var out = ByteBuffer()
        s.writeMessage(.text, payload: ByteBuffer(bytes: Self.hello), into: &out)
        s.writeMessage(.text, payload: ByteBuffer(bytes: Self.hello), into: &out)
        #expect(Array(out.readableBytesView) == hexBytes("c1 07 f2 48 cd c9 c9 07 00 c1 05 f2 00 11 00 00"))

        var reset = server(.init(serverNoContextTakeover: true))
        out.clear()
        reset.writeMessage(.text, payload: ByteBuffer(bytes: Self.hello), into: &out)
        reset.writeMessage(.text, payload: ByteBuffer(bytes: Self.hello), into: &out)
        #expect(Array(out.readableBytesView) == hexBytes("c1 07 f2 48 cd c9 c9 07 00 c1 07 f2 48 cd c9 c9 07 00"))
    }

    @Test func smallMessagesUnderTheThresholdGoUncompressed() {
        var s = server(tuning: .init(minimumMessageSize: 32))
        var out = ByteBuffer()
        s.writeMessage(.text, payload: ByteBuffer(bytes: Self.hello), into: &out)
        #expect(Array(out.readableBytesView) == [0x81, 0x05] + Self.hello)
        // And a peer with compression reads an uncompressed message as is.
        var c = client()
        #expect(drive(&c, Array(out.readableBytesView)).actions == [text("Hello")])
    }

    static let parameterSets: [PerMessageDeflate.Parameters] = [
        .init(),
        .init(serverNoContextTakeover: true, clientNoContextTakeover: true),
        .init(serverMaxWindowBits: 9, clientMaxWindowBits: 9),
        .init(serverMaxWindowBits: 8, clientMaxWindowBits: 8),
        .init(clientNoContextTakeover: true, serverMaxWindowBits: 12, clientMaxWindowBits: 10),
    ]

    /// Client → server and server → client, several messages in a row (so history is used), every size class.
    @Test(arguments: parameterSets)
    func roundTripsBothWays(parameters: PerMessageDeflate.Parameters) {
        var generator = SystemRandomNumberGenerator()
        let prose = Array(String(repeating: "The quick brown fox jumps over the lazy dog; ünïcödé ✓. ", count: 3000).utf8)
        let random = (0..<200_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let payloads: [[UInt8]] = [[], [0x41], Self.hello, Array(prose.prefix(1000)), prose, random, Array(prose.prefix(70_000))]
        var c = client(parameters)
        var s = server(parameters)
        for payload in payloads {
            let opcode: WebSocketOpcode = payload.count == random.count ? .binary : .text
            var wire = ByteBuffer()
            c.writeMessage(opcode, payload: ByteBuffer(bytes: payload), into: &wire)
            let got = drive(&s, Array(wire.readableBytesView)).actions
            #expect(got == [.message(opcode, ByteBuffer(bytes: payload))], "client → server, \(payload.count) bytes")
            if payload.count == prose.count {
                // A 256-byte window is served by Huffman coding alone (no back-references): less, but still smaller.
                let bound = parameters.clientMaxWindowBits == 8 ? payload.count * 3 / 4 : payload.count / 5
                #expect(wire.readableBytes < bound, "prose compresses")
            }
            wire.clear()
            s.writeMessage(opcode, payload: ByteBuffer(bytes: payload), into: &wire)
            #expect(drive(&c, Array(wire.readableBytesView)).actions == [.message(opcode, ByteBuffer(bytes: payload))],
                    "server → client, \(payload.count) bytes")
        }
    }

    /// zlib emits nothing for an empty input right after a sync flush (it will not write two flush markers in
    /// a row); the empty message must still be a valid compressed message for the peer (found by FuzzFrames).
    @Test func emptyMessagesBetweenOthersKeepTheStreamsInStep() {
        var c = client()
        var s = server()
        let payloads: [[UInt8]] = [[0], [], [], [0x0b], [], Array("after the empties".utf8), [], [0]]
        var wire = ByteBuffer()
        for p in payloads { c.writeMessage(.binary, payload: ByteBuffer(bytes: p), into: &wire) }
        #expect(drive(&s, Array(wire.readableBytesView)).actions == payloads.map { binary($0) })
        // And a sender that puts nothing at all in an empty compressed message does not derail the stream.
        var lenient = client()
        let wire2 = hexBytes("c1 07 f2 48 cd c9 c9 07 00") + hexBytes("c1 00") + hexBytes("c1 05 f2 00 11 00 00")
        #expect(drive(&lenient, wire2).actions == [text("Hello"), text(""), text("Hello")])
    }

    /// A compressed message fragmented on the wire, read one byte at a time.
    @Test func fragmentedCompressedMessageByteByByte() {
        let payload = Array(String(repeating: "abcabcabd ", count: 200).utf8)
        var deflater = server() // produces the compressed bytes
        var out = ByteBuffer()
        deflater.writeMessage(.text, payload: ByteBuffer(bytes: payload), into: &out)
        let compressed = Array(out.readableBytesView.dropFirst(2)) // 2-byte header (< 126 bytes)
        #expect(compressed.count < 126)
        let third = compressed.count / 3
        let wire = maskedFrame(.text, Array(compressed[..<third]), fin: false, rsv: FrameHeader.rsv1)
            + maskedFrame(.ping, [9])
            + maskedFrame(.continuation, Array(compressed[third..<(2 * third)]), fin: false)
            + maskedFrame(.continuation, Array(compressed[(2 * third)...]))
        var s = server()
        #expect(drive(&s, wire.map { [$0] }).actions == [.ping(ByteBuffer(bytes: [9])), .message(.text, ByteBuffer(bytes: payload))])
    }

    @Test func decompressionBombGets1009() {
        // 16 MiB of zeros deflate to ~16 KiB at level 9 (a bomb's maker compresses as hard as zlib can); the server
        // accepts messages of 1 MiB.
        var c = RFC6455Connection(role: .client, compression: PerMessageDeflateCodec(
            parameters: .init(), role: .client, tuning: .init(compressionLevel: 9, minimumMessageSize: 0)))
        var wire = ByteBuffer()
        c.writeMessage(.binary, payload: ByteBuffer(repeating: 0, count: 16 << 20), into: &wire)
        #expect(wire.readableBytes < 64 << 10)
        var s = server(maxMessageSize: 1 << 20)
        let actions = drive(&s, Array(wire.readableBytesView)).actions
        guard case .failed(.messageTooBig, let reason)? = actions.last, actions.count == 1 else {
            Issue.record("expected 1009, got \(actions)"); return
        }
        #expect(reason.contains("inflates past"))
    }

    @Test func messageExactlyAtTheLimitIsAccepted() {
        var c = client()
        var wire = ByteBuffer()
        c.writeMessage(.binary, payload: ByteBuffer(repeating: 7, count: 4096), into: &wire)
        var s = server(maxMessageSize: 4096)
        #expect(drive(&s, Array(wire.readableBytesView)).actions == [.message(.binary, ByteBuffer(repeating: 7, count: 4096))])
        var over = server(maxMessageSize: 4095)
        guard case .failed(.messageTooBig, _)? = drive(&over, Array(wire.readableBytesView)).actions.first else {
            Issue.record("4096 bytes passed a 4095-byte limit"); return
        }
    }

    /// The gateway sets the frame and the message limit both to `max_message_size`. Incompressible data grows a
    /// little under deflate, so a message exactly at the limit, sent compressed, travels in a longer frame: it is
    /// accepted (the frame limit allows deflate's growth; the inflated size is what the message limit checks).
    @Test func anIncompressibleMessageAtTheLimitIsAcceptedThoughItsFrameIsLonger() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        let payload = ByteBuffer(bytes: (0..<65536).map { _ -> UInt8 in
            state = state &* 6364136223846793005 &+ 1442695040888963407 // a fixed LCG: the same bytes every run
            return UInt8(truncatingIfNeeded: state >> 56)
        })
        var c = client()
        var wire = ByteBuffer()
        c.writeMessage(.binary, payload: payload, into: &wire)
        #expect(wire.readableBytes > 65536 + 14, "deflate made the frame longer than the message")
        var s = RFC6455Connection(role: .server, configuration: .init(maxFrameSize: 65536, maxMessageSize: 65536),
                                  compression: PerMessageDeflateCodec(parameters: .init(), role: .server,
                                                                      tuning: .init(minimumMessageSize: 0)))
        #expect(drive(&s, Array(wire.readableBytesView)).actions == [.message(.binary, payload)])
        var over = RFC6455Connection(role: .server, configuration: .init(maxFrameSize: 65535, maxMessageSize: 65535),
                                     compression: PerMessageDeflateCodec(parameters: .init(), role: .server,
                                                                         tuning: .init(minimumMessageSize: 0)))
        guard case .failed(.messageTooBig, _)? = drive(&over, Array(wire.readableBytesView)).actions.first else {
            Issue.record("65536 bytes passed a 65535-byte limit"); return
        }
    }

    @Test func corruptDeflateDataGets1007() {
        var s = server()
        // BTYPE=11 (reserved) is never valid DEFLATE.
        let actions = drive(&s, maskedFrame(.binary, [0xff, 0xff, 0xff], rsv: FrameHeader.rsv1)).actions
        guard case .failed(.invalidFramePayloadData, _)? = actions.first else { Issue.record("\(actions)"); return }
    }

    @Test func invalidUTF8InsideCompressedTextGets1007() {
        var c = client()
        var wire = ByteBuffer()
        c.writeMessage(.text, payload: ByteBuffer(bytes: Array("valid so far ".utf8) + [0xC0, 0xAF]), into: &wire)
        var s = server()
        guard case .failed(.invalidFramePayloadData, _)? = drive(&s, Array(wire.readableBytesView)).actions.first else {
            Issue.record("invalid UTF-8 passed"); return
        }
    }

    @Test func rsv1RulesOfSection6() {
        let deflated = hexBytes("f2 48 cd c9 c9 07 00")
        let cases: [(String, [UInt8])] = [
            ("continuation", maskedFrame(.text, deflated, fin: false, rsv: FrameHeader.rsv1) + maskedFrame(.continuation, [0], rsv: FrameHeader.rsv1)),
            ("control", maskedFrame(.ping, [1], rsv: FrameHeader.rsv1)),
            ("rsv2", maskedFrame(.text, deflated, rsv: FrameHeader.rsv2)),
        ]
        for (name, wire) in cases {
            var s = server()
            guard case .failed(.protocolError, _)? = drive(&s, wire).actions.last else { Issue.record("\(name) accepted"); continue }
        }
        // Without the extension, RSV1 is a protocol error.
        var plain = RFC6455Connection(role: .server)
        guard case .failed(.protocolError, _)? = drive(&plain, maskedFrame(.text, deflated, rsv: FrameHeader.rsv1)).actions.first else {
            Issue.record("RSV1 accepted without negotiation"); return
        }
    }

    @Test func emptyDeflateBlocksCannotStreamForever() {
        // Empty stored blocks inflate to nothing; the wire length of a compressed message is still bounded.
        let emptyBlock = hexBytes("00 00 00 ff ff")
        var s = server(maxMessageSize: 1000)
        var wire = maskedFrame(.binary, emptyBlock, fin: false, rsv: FrameHeader.rsv1)
        // The wire bound is 1000 + 1000/256 + 1024 bytes: 600 blocks of 5 bytes pass it.
        for _ in 0..<600 { wire += maskedFrame(.continuation, emptyBlock, fin: false) }
        guard case .failed(.messageTooBig, _)? = drive(&s, wire).actions.last else { Issue.record("unbounded"); return }
    }

    @Test func memoryBoundFollowsZlibFormulas() {
        let full = PerMessageDeflateCodec(parameters: .init(), role: .server)
        #expect(full.memoryBound == (128 << 10) + (128 << 10) + (6 << 10) + (32 << 10) + (7 << 10))
        let small = PerMessageDeflateCodec(parameters: .init(serverMaxWindowBits: 9, clientMaxWindowBits: 9), role: .server,
                                           tuning: .init(memoryLevel: 1))
        #expect(small.memoryBound == 2048 + 1024 + (6 << 10) + 512 + (7 << 10))
    }
}

@Suite struct PerMessageDeflateNegotiationTests {
    func offers(_ header: String) -> [ExtensionOffer] { ExtensionOffer.parse([header])! }

    @Test func plainOfferIsAcceptedWithDefaults() throws {
        let (response, p) = try #require(PerMessageDeflate.accept(offers: offers("permessage-deflate"), settings: .default))
        #expect(response.headerValue == "permessage-deflate")
        #expect(p == .init())
    }

    @Test func chromiumOffer() throws {
        let (response, p) = try #require(PerMessageDeflate.accept(offers: offers("permessage-deflate; client_max_window_bits"), settings: .default))
        // The client may be limited, and is (12 by default), so that a resting connection keeps 4 KiB of its window.
        #expect(response.headerValue == "permessage-deflate; client_max_window_bits=12")
        #expect(p == .init(clientMaxWindowBits: 12))
        let wide = PerMessageDeflate.ServerSettings(clientMaxWindowBits: 15)
        let (wideResponse, q) = try #require(PerMessageDeflate.accept(offers: offers("permessage-deflate; client_max_window_bits"), settings: wide))
        #expect(wideResponse.headerValue == "permessage-deflate") // 15: nothing to say
        #expect(q == .init())
    }

    @Test func requestedParametersAreHonoured() throws {
        let header = "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"
        let (response, p) = try #require(PerMessageDeflate.accept(offers: offers(header), settings: .default))
        #expect(p == .init(serverNoContextTakeover: true, clientNoContextTakeover: true, serverMaxWindowBits: 10, clientMaxWindowBits: 12))
        #expect(response.headerValue == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12")
    }

    @Test func serverSettingsLowerWhatTheClientAllows() throws {
        let settings = PerMessageDeflate.ServerSettings(serverMaxWindowBits: 11, clientMaxWindowBits: 10, clientNoContextTakeover: true)
        let (response, p) = try #require(PerMessageDeflate.accept(offers: offers("permessage-deflate; client_max_window_bits"), settings: settings))
        #expect(p == .init(clientNoContextTakeover: true, serverMaxWindowBits: 11, clientMaxWindowBits: 10))
        #expect(response.headerValue == "permessage-deflate; client_no_context_takeover; server_max_window_bits=11; client_max_window_bits=10")
        // A client that did not offer client_max_window_bits cannot be limited: its window stays 15.
        let (bare, q) = try #require(PerMessageDeflate.accept(offers: offers("permessage-deflate"), settings: settings))
        #expect(q.clientMaxWindowBits == 15)
        #expect(!bare.headerValue.contains("client_max_window_bits"))
    }

    @Test(arguments: [
        "permessage-deflate; server_max_window_bits",           // value required
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=09",        // no leading zero
        "permessage-deflate; client_max_window_bits=1a",
        "permessage-deflate; server_no_context_takeover=1",     // no value allowed
        "permessage-deflate; client_no_context_takeover; client_no_context_takeover",
        "permessage-deflate; unknown_parameter",
        "x-webkit-deflate-frame",
    ])
    func invalidOffersAreDeclined(header: String) {
        #expect(PerMessageDeflate.accept(offers: offers(header), settings: .default) == nil)
    }

    @Test func firstAcceptableOfSeveralOffersWins() throws {
        let header = "permessage-deflate; bogus, permessage-deflate; server_max_window_bits=9, permessage-deflate"
        let (_, p) = try #require(PerMessageDeflate.accept(offers: offers(header), settings: .default))
        #expect(p.serverMaxWindowBits == 9)
    }

    @Test func quotedValuesAreAccepted() throws {
        let (_, p) = try #require(PerMessageDeflate.accept(offers: offers("permessage-deflate; client_max_window_bits=\"10\""), settings: .default))
        #expect(p.clientMaxWindowBits == 10)
    }

    // MARK: client side

    func validate(_ response: String, _ settings: PerMessageDeflate.ClientSettings = .default) -> Result<PerMessageDeflate.Parameters?, PerMessageDeflate.ResponseError> {
        PerMessageDeflate.negotiated(in: offers(response), offered: settings)
    }

    @Test func clientOfferLooksLikeChromiums() {
        #expect(PerMessageDeflate.ClientSettings.default.offer.headerValue == "permessage-deflate; client_max_window_bits")
        let custom = PerMessageDeflate.ClientSettings(serverMaxWindowBits: 10, clientMaxWindowBits: 9, serverNoContextTakeover: true)
        #expect(custom.offer.headerValue == "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=9")
    }

    @Test func clientAcceptsValidResponses() throws {
        #expect(try validate("permessage-deflate").get() == .init())
        #expect(try validate("permessage-deflate; server_no_context_takeover; client_max_window_bits=10").get()
                == .init(serverNoContextTakeover: true, clientMaxWindowBits: 10))
        #expect(try validate("x-other").get() == nil)
    }

    @Test(arguments: [
        "permessage-deflate; client_max_window_bits",           // a response must give a value
        "permessage-deflate; server_max_window_bits=20",
        "permessage-deflate; foo",
        "permessage-deflate, permessage-deflate",
    ])
    func clientRefusesInvalidResponses(response: String) {
        if case .success = validate(response) { Issue.record("accepted \(response)") }
    }

    @Test func clientRefusesResponsesThatIgnoreItsRequests() {
        let asking = PerMessageDeflate.ClientSettings(serverMaxWindowBits: 10, clientMaxWindowBits: 12, serverNoContextTakeover: true)
        for response in [
            "permessage-deflate; server_max_window_bits=10",                                 // dropped no_context_takeover
            "permessage-deflate; server_no_context_takeover",                                // dropped server_max_window_bits
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=11",     // above what was asked
            "permessage-deflate; server_no_context_takeover; server_max_window_bits=10; client_max_window_bits=13",
        ] {
            if case .success = validate(response, asking) { Issue.record("accepted \(response)") }
        }
        if case .failure(let e) = validate("permessage-deflate; server_no_context_takeover; server_max_window_bits=9", asking) {
            Issue.record("refused a valid response: \(e)")
        }
    }
}
