#if canImport(Glibc)
import Glibc
#endif
import WSGateExec
import Yams

extension NodeReader {
    /// An exec service: `command` (a string split into words as a shell would, quotes and backslashes honoured but
    /// nothing expanded, or a list: the program and its arguments; no shell runs it),
    /// `max_processes`, `binary`, `kill_grace` seconds. A program that cannot be run is an error here, at start-up
    /// and in `--check-config`, not at the first connection.
    mutating func readExec(_ m: [String: Node], path: String, node: Node) -> ExecService.Settings? {
        guard let commandNode = m["command"] else {
            fail(node, "exec service \(path) needs command: PROGRAM [ARGUMENTS…]")
            return nil
        }
        var command: [String]
        if case .sequence = commandNode {
            command = (sequence(commandNode, "command") ?? []).compactMap { string($0, "command argument") }
        } else {
            guard let words = ExecCommand.words(string(commandNode, "command") ?? "") else {
                fail(commandNode, "exec service \(path): a quote in command is not closed")
                return nil
            }
            command = words
        }
        guard let program = command.first else {
            fail(commandNode, "exec service \(path): command names no program")
            return nil
        }
        if let why = ExecCommand.cannotRun(program) {
            fail(commandNode, "exec service \(path): \(why)")
            return nil
        }
        command[0] = ExecCommand.resolve(program) ?? program
        var settings = ExecService.Settings(command: command)
        if let n = m["max_processes"], let v = integer(n, "max_processes", in: 1...1_000_000) { settings.maxProcesses = v }
        if let n = m["binary"], let v = bool(n, "binary") { settings.binary = v }
        if let n = m["kill_grace"], let v = seconds(n, "kill_grace") { settings.killGrace = .milliseconds(Int64(v * 1000)) }
        return settings
    }
}

/// Finding the program of an exec service before any connection needs it.
package enum ExecCommand {
    /// `text` split into words as a POSIX shell splits a command line — at unquoted blanks, with '…' taken as it is,
    /// "…" and backslashes escaping — but with no expansion of any kind; nil when a quote is not closed.
    package static func words(_ text: String) -> [String]? {
        var words: [String] = [], word = "", inWord = false
        var quote: Character?
        var escaped = false
        for c in text {
            if escaped {
                word.append(c)
                escaped = false
            } else if let q = quote {
                if c == q {
                    quote = nil
                } else if c == "\\", q == "\"" {
                    escaped = true
                } else {
                    word.append(c)
                }
            } else if c == "'" || c == "\"" {
                quote = c
                inWord = true
            } else if c == "\\" {
                escaped = true
                inWord = true
            } else if c == " " || c == "\t" {
                if inWord { words.append(word) }
                word = ""
                inWord = false
            } else {
                word.append(c)
                inWord = true
            }
        }
        guard quote == nil, !escaped else { return nil }
        if inWord { words.append(word) }
        return words
    }

    /// `program` as a path: itself if it has a slash, else the first executable of that name on `PATH`.
    package static func resolve(_ program: String) -> String? {
        if program.contains("/") { return access(program, X_OK) == 0 ? program : nil }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = "\(directory)/\(program)"
            if access(candidate, X_OK) == 0 { return candidate }
        }
        return nil
    }

    /// Why `program` cannot be run, or nil.
    package static func cannotRun(_ program: String) -> String? {
        guard resolve(program) == nil else { return nil }
        if program.contains("/") {
            return access(program, F_OK) == 0 ? "\(program) is not executable" : "no program at \(program)"
        }
        return "no program \(program) on PATH"
    }
}
