import NIOCore
import Testing
@testable import WebSocketEngine

@Suite struct UTF8Tests {
    /// The reference: Swift's own decoder.
    private func isValidReference(_ bytes: [UInt8]) -> Bool {
        String(validating: bytes, as: UTF8.self) != nil
    }

    private func validate(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { UTF8Validator.isValid($0) }
    }

    @Test func agreesWithSwiftOnEveryOneAndTwoByteSequence() {
        for a in 0...255 {
            #expect(validate([UInt8(a)]) == isValidReference([UInt8(a)]))
            for b in 0...255 {
                let s = [UInt8(a), UInt8(b)]
                #expect(validate(s) == isValidReference(s), "\(s)")
            }
        }
    }

    @Test func agreesWithSwiftOnThreeAndFourByteSequences() {
        // Every lead byte E0–F4 with every second byte, and boundary third/fourth bytes.
        let tails: [UInt8] = [0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF]
        for a in 0xE0...0xFF {
            for b in 0...255 {
                for c in tails {
                    let three = [UInt8(a), UInt8(b), c]
                    #expect(validate(three) == isValidReference(three), "\(three)")
                    for d in tails {
                        let four = three + [d]
                        #expect(validate(four) == isValidReference(four), "\(four)")
                    }
                }
            }
        }
    }

    @Test func failsFastAtTheFirstImpossibleByte() {
        // (sequence, index of the first byte after which no continuation could make it valid)
        let cases: [([UInt8], Int)] = [
            ([0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xED, 0xA0, 0x80, 0x65], 12), // surrogate
            ([0xF4, 0x90, 0x80, 0x80], 1), // above U+10FFFF
            ([0xC0, 0x80], 0), // overlong
            ([0xE0, 0x80, 0x80], 1), // overlong 3-byte
            ([0x41, 0x80], 1), // lone continuation
            ([0xF8], 0), // 5-byte lead
        ]
        for (bytes, failAt) in cases {
            var v = UTF8Validator()
            for i in 0..<bytes.count {
                let ok = [bytes[i]].withUnsafeBytes { v.validate($0) }
                #expect(ok == (i < failAt), "\(bytes) byte \(i)")
                if !ok { break }
            }
        }
    }

    @Test func textSplitAtEveryByteBoundaryIsAccepted() {
        let message = "Hello-µ@ßöäüàá-UTF-8!! κόσμε 𝄞 ✓"
        let bytes = Array(message.utf8)
        for split in 0...bytes.count {
            // As two frames…
            var s = RFC6455Connection(role: .server)
            let frames = maskedFrame(.text, Array(bytes[..<split]), fin: false) + maskedFrame(.continuation, Array(bytes[split...]))
            #expect(drive(&s, frames).actions == [text(message)], "frames split at \(split)")
            // …and as one frame in two reads.
            var t = RFC6455Connection(role: .server)
            let one = maskedFrame(.text, bytes)
            let cut = 6 + split
            #expect(drive(&t, [Array(one[..<cut]), Array(one[cut...])]).actions == [text(message)], "read split at \(split)")
        }
    }

    @Test func invalidTextFailsBeforeTheFrameEnds() {
        // The first part of the payload is invalid; the rest of the frame has not arrived yet.
        var s = RFC6455Connection(role: .server)
        let frame = maskedFrame(.text, [0x41, 0xED, 0xA0, 0x80] + Array(repeating: 0x41, count: 100))
        let result = drive(&s, [Array(frame.prefix(10))])
        #expect(result.actions == [.failed(.invalidFramePayloadData, reason: "invalid UTF-8 in text message")])
    }

    @Test func invalidFragmentFailsBeforeTheMessageEnds() {
        var s = RFC6455Connection(role: .server)
        let wire = maskedFrame(.text, Array("κόσμε".utf8), fin: false) + maskedFrame(.continuation, [0xED, 0xA0], fin: false)
        #expect(drive(&s, wire).actions == [.failed(.invalidFramePayloadData, reason: "invalid UTF-8 in text message")])
    }

    @Test func textEndingMidCharacterFails() {
        var s = RFC6455Connection(role: .server)
        #expect(drive(&s, maskedFrame(.text, [0x41, 0xCE])).actions
                == [.failed(.invalidFramePayloadData, reason: "text message ends inside a UTF-8 sequence")])
    }

    @Test func binaryIsNotValidated() {
        var s = RFC6455Connection(role: .server)
        #expect(drive(&s, maskedFrame(.binary, [0xFF, 0xFE])).actions == [binary([0xFF, 0xFE])])
    }
}
