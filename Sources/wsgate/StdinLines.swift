#if canImport(Glibc)
import Glibc
#endif
import NIOConcurrencyHelpers

/// Stdin, a line at a time and only when asked: `request()` lets a thread of its own (a read blocks) read one
/// more line and hand it to `deliver`, or `nil` at the end of input. Nothing is read ahead, so a line is never
/// read and then left unsent when the session ends or its connection is lost.
final class StdinLines: Sendable {
    /// 1 while a line is asked for and not yet read (the session never asks for two at once).
    private let requests = ConditionLock(value: 0)
    private let deliver: @Sendable (String?) -> Void
    private let started = NIOLockedValueBox(false)

    init(deliver: @escaping @Sendable (String?) -> Void) {
        self.deliver = deliver
    }

    /// Asks for one more line (the thread starts on the first request).
    func request() {
        requests.lock()
        requests.unlock(withValue: 1)
        let first = started.withLockedValue { started in
            defer { started = true }
            return !started
        }
        if first { Thread.detach { [self] in readLoop() } }
    }

    private func readLoop() {
        while true {
            requests.lock(whenValue: 1)
            requests.unlock(withValue: 0)
            let line = readLine(strippingNewline: true)
            deliver(line)
            if line == nil { return }
        }
    }

    /// Whether stdin is a terminal (slash commands are read then).
    static var isTerminal: Bool { isatty(0) != 0 }
}
