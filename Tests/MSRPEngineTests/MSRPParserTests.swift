import NIOCore
import Testing
@testable import MSRPEngine

/// The seed's examples (draft-pd-msrp-websocket-01 §8.1–8.4, continuation lines joined as its note says; §8.1 prints
/// its end-lines with five dashes, a typo for RFC 4975's seven, kept as seven here) parsed
/// and reproduced byte for byte, whatever the reads' sizes; RFC 4975 syntax edge cases.
@Suite struct MSRPParserTests {
    static func crlf(_ lines: [String]) -> [UInt8] { Array(lines.map { $0 + "\r\n" }.joined().utf8) }

    static let examples: [String: [UInt8]] = [
        "8.1 F3 AUTH": crlf(["MSRP 49fi AUTH", "To-Path: msrps://alice@a.example.com:443;ws",
                             "From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws", "-----49fi$"].dropLast() + ["-------49fi$"]),
        "8.1 F4 200": crlf(["MSRP 49fi 200 OK", "To-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws",
                            "From-Path: msrps://alice@a.example.com:443;ws", "Use-Path: msrps://a.example.com:2855/jui787s2f;tcp",
                            "Expires: 900", "-------49fi$"]),
        "8.2 F1 SEND": crlf(["MSRP 6aef SEND",
                             "To-Path: msrps://a.example.com:2855/jui787s2f;tcp msrps://bob.example.com:8145/foo;tcp",
                             "From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws", "Success-Report: no", "Byte-Range: 1-*/*",
                             "Message-ID: 87652", "Content-Type: text/plain", "", "Hi Bob, I'm about to send you file.mpeg",
                             "-------6aef$"]),
        "8.2 F3 SEND": crlf(["MSRP juh76 SEND", "To-Path: msrps://bob.example.com:8145/foo;tcp",
                             "From-Path: msrps://a.example.com:2855/jui787s2f;tcp msrps://df7jal23ls0d.invalid:2855/98cjs;ws",
                             "Success-Report: no", "Byte-Range: 1-*/*", "Message-ID: 87652", "Content-Type: text/plain", "",
                             "Hi Bob, I'm about to send you file.mpeg", "-------juh76$"]),
        "8.3 F2 200": crlf(["MSRP xght6 200 OK", "To-Path: msrps://bob.example.com:8145/foo;tcp",
                            "From-Path: msrps://a.example.com:2855/jui787s2f;tcp", "-------xght6$"]),
        "8.4 F1 SEND": crlf(["MSRP kjh6 SEND",
                             "To-Path: msrps://a.example.com:2855/jui787s2f;tcp msrps://a.example.com:2855/iwnslt;tcp msrps://jk9awp14vj8x.invalid:2855/76qwe;ws",
                             "From-Path: msrps://df7jal23ls0d.invalid:2855/98cjs;ws", "Success-Report: no", "Byte-Range: 1-*/*",
                             "Message-ID: 87652", "Content-Type: text/plain", "", "Carol, here is the file Bob sent me.",
                             "-------kjh6$"]),
        "8.4 F4 200": crlf(["MSRP re58 200 OK", "To-Path: msrps://a.example.com:2855/iwnslt;tcp",
                            "From-Path: msrps://jk9awp14vj8x.invalid:2855/76qwe;ws", "-------re58$"]),
    ]

    /// Parses `bytes` fed `split` bytes at a time into whole messages.
    static func parse(_ bytes: [UInt8], split: Int, limits: MSRPParser.Limits = .init())
        -> (messages: [(MSRPHead, [UInt8]?, MSRPContinuation)], failure: MSRPParser.Failure?) {
        var parser = MSRPParser(limits: limits)
        var out: [(MSRPHead, [UInt8]?, MSRPContinuation)] = []
        var head: MSRPHead?
        var body: [UInt8]?
        var i = 0
        while true {
            var input = ByteBuffer(bytes: bytes[min(i, bytes.count)..<min(i + split, bytes.count)])
            i += split
            while let result = parser.next(&input) {
                switch result {
                case .failure(let f): return (out, f)
                case .success(.head(let h, let hasBody)): head = h; body = hasBody ? [] : nil
                case .success(.body(let piece)): body! += Array(piece.readableBytesView)
                case .success(.end(let flag)): out.append((head!, body, flag))
                }
            }
            if i >= bytes.count { return (out, nil) }
        }
    }

    @Test func seedExamplesParseAndReproduceWhateverTheSplit() throws {
        for (name, bytes) in Self.examples {
            for split in [1, 2, 3, 7, 16, bytes.count] {
                let (messages, failure) = Self.parse(bytes, split: split)
                #expect(failure == nil, "\(name) split \(split): \(String(describing: failure))")
                guard messages.count == 1 else { Issue.record("\(name) split \(split): \(messages.count) messages"); continue }
                let (head, body, flag) = messages[0]
                #expect(flag == .complete)
                var again = ByteBuffer()
                head.write(body: body.map { ByteBuffer(bytes: $0) }, continuation: flag, into: &again)
                #expect(Array(again.readableBytesView) == bytes, "\(name) reproduced differently")
                #expect(try head.toPath().count >= 1 && head.fromPath().count >= 1, "\(name) paths")
            }
        }
        let (send, _) = Self.parse(Self.examples["8.4 F1 SEND"]!, split: 5)
        let toPath = try send[0].0.toPath()
        #expect(toPath.map(\.sessionID) == ["jui787s2f", "iwnslt", "76qwe"])
        #expect(toPath[2].transport == "ws" && toPath[2].secure && toPath[2].host == "jk9awp14vj8x.invalid")
        #expect(send[0].0.method == "SEND" && send[0].0["message-id"] == "87652")
        #expect(String(decoding: send[0].1!, as: UTF8.self) == "Carol, here is the file Bob sent me.")
    }

    @Test func severalChunksInOneStreamAndBodiesThatLookLikeEndLines() {
        let tricky = "line\r\n-------other$\r\n-------abcd!\r\n-------abcd$X\r\nend"
        let bytes = Self.crlf(["MSRP abcd SEND", "To-Path: msrp://r.example:2855/s1;tcp", "From-Path: msrp://c.example:1/s2;tcp",
                               "Message-ID: m1", "Byte-Range: 1-*/*", "Content-Type: text/plain", "", tricky, "-------abcd+"])
            + Self.crlf(["MSRP efgh SEND", "To-Path: msrp://r.example:2855/s1;tcp", "From-Path: msrp://c.example:1/s2;tcp",
                         "Message-ID: m1", "Byte-Range: 40-40/40", "Content-Type: text/plain", "", "", "-------efgh#"])
            + Self.crlf(["MSRP ijkl 200 OK", "To-Path: msrp://c.example:1/s2;tcp", "From-Path: msrp://r.example:2855/s1;tcp", "-------ijkl$"])
        for split in [1, 4, 9, bytes.count] {
            let (messages, failure) = Self.parse(bytes, split: split)
            #expect(failure == nil)
            #expect(messages.map(\.2) == [.more, .aborted, .complete], "split \(split)")
            #expect(messages.first.map { String(decoding: $0.1!, as: UTF8.self) } == tricky)
            #expect(messages.count == 3 && messages[1].1 == [] && messages[2].1 == nil && messages[2].0.statusCode == 200)
        }
    }

    @Test func syntaxErrorsAndLimits() {
        func failure(_ lines: [String], limits: MSRPParser.Limits = .init()) -> MSRPParser.Failure? {
            Self.parse(Self.crlf(lines), split: 3, limits: limits).failure
        }
        let paths = ["To-Path: msrp://r.example:2855/s1;tcp", "From-Path: msrp://c.example:1/s2;tcp"]
        #expect(failure(["MSRP abc SEND"] + paths + ["-------abc$"]) == .malformedStartLine("bad transaction id"))
        #expect(failure(["MSRP abcd send"] + paths + ["-------abcd$"]) == .malformedStartLine("bad method or status"))
        #expect(failure(["HTTP/1.1 200 OK"]) == .malformedStartLine("not an MSRP start line"))
        #expect(failure(["MSRP abcd SEND"] + paths + ["", "body", "-------abcd$"]) == .missingBlankLine)
        #expect(failure(["MSRP abcd SEND"] + paths + ["no colon here"]) == .malformedField("no colon here"))
        #expect(failure(["MSRP abcd SEND"] + paths + ["-------abce$"]) == .malformedField("-------abce$"))
        #expect(failure(["MSRP abcd SEND"] + paths + (0..<70).map { "X-\($0): y" }) == .tooManyFields)
        #expect(failure(["MSRP abcd SEND", "X: " + String(repeating: "a", count: 20_000)]) == .headTooLarge)
        // A head that never ends its line is refused at the limit, not buffered.
        #expect(Self.parse(Array(("MSRP abcd SEND\r\nX: " + String(repeating: "a", count: 20_000)).utf8), split: 1000).failure == .headTooLarge)
        let big = String(repeating: "b", count: 2000)
        #expect(failure(["MSRP abcd SEND"] + paths + ["Content-Type: text/plain", "", big, "-------abcd$"],
                        limits: .init(maxBodyBytes: 1000)) == .bodyTooLarge)
        // A body that never ends is refused at the limit too.
        #expect(Self.parse(Self.crlf(["MSRP abcd SEND"] + paths + ["Content-Type: text/plain", ""]) + [UInt8](repeating: 0x61, count: 5000),
                           split: 100, limits: .init(maxBodyBytes: 1000)).failure == .bodyTooLarge)
        // A bare LF is not a line end.
        #expect(Self.parse(Array("MSRP abcd SEND\n".utf8), split: 4).failure == .malformedField("a line without CRLF"))
    }

    @Test func transactionIDsAreRandomEnough() {
        var g = SystemRandomNumberGenerator()
        let ids = Set((0..<1000).map { _ in MSRPHead.makeTransactionID(using: &g) })
        #expect(ids.count == 1000)
        #expect(ids.allSatisfy { MSRPParser.isTransactionID(Substring($0).utf8) && $0.count == 16 })
    }
}
