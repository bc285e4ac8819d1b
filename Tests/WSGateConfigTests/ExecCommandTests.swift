import Foundation
import Testing
import WSGateConfig

/// An exec command written as one string is split as a shell splits a command line, nothing expanded.
@Suite struct ExecCommandTests {
    @Test func wordsAsAShellSplitsThem() {
        #expect(ExecCommand.words("/bin/cat") == ["/bin/cat"])
        #expect(ExecCommand.words("  a   b\tc ") == ["a", "b", "c"])
        #expect(ExecCommand.words(#"sh -c 'echo $$; exec yes'"#) == ["sh", "-c", "echo $$; exec yes"])
        #expect(ExecCommand.words(#"python3 -c "print('hi \"there\"')""#) == ["python3", "-c", #"print('hi "there"')"#])
        #expect(ExecCommand.words(#"a\ b c"#) == ["a b", "c"])
        #expect(ExecCommand.words(#"x '' y"#) == ["x", "", "y"])
        #expect(ExecCommand.words(#"unclosed 'quote"#) == nil)
        #expect(ExecCommand.words(#"trailing\"#) == nil)
    }

    @Test func programsAreFoundBeforeAnyConnection() {
        #expect(ExecCommand.cannotRun("/bin/cat") == nil)
        #expect(ExecCommand.cannotRun("cat") == nil)
        #expect(ExecCommand.resolve("cat")?.hasSuffix("/cat") == true)
        #expect(ExecCommand.cannotRun("/no/such/program") == "no program at /no/such/program")
        let plain = "/tmp/wsgate-exec-test-\(UInt32.random(in: 0...UInt32.max)).txt"
        #expect(FileManager.default.createFile(atPath: plain, contents: Data("not a program".utf8),
                                               attributes: [.posixPermissions: 0o644]))
        defer { try? FileManager.default.removeItem(atPath: plain) }
        #expect(ExecCommand.cannotRun(plain) == "\(plain) is not executable")
        #expect(ExecCommand.cannotRun("nosuchprogram-anywhere") == "no program nosuchprogram-anywhere on PATH")
    }
}
