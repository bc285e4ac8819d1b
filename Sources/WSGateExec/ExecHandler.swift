import Logging
import NIOConcurrencyHelpers
import NIOCore
import Subprocess
import SystemPackage
import WebSocketAPI
import WebSocketEngine

#if canImport(Glibc)
import Glibc
#endif

/// One connection's program. The program runs in a task of its own (swift-subprocess); the connection's callbacks
/// (its event loop) hand it the client's messages through `inbox`, and it sends its output back through the
/// connection. Backpressure both ways: more than `inboxHighWater` bytes not yet written to the program pause reading
/// from the client; a message is sent only once the previous one was written to the socket, so a client that does
/// not read stops the reading of the program's stdout, whose pipe fills and pauses the program.
///
/// The handler's own state is the connection's event loop's; the task gets only what is `Sendable` (the service, the
/// inbox, the locked count of bytes not yet written, the connection), so the compiler checks the split.
final class ExecHandler: WebSocketHandler {
    private let service: ExecService
    private var connection: (any WebSocketConnection)?
    private var task: Task<Void, Never>?
    private var slot: UInt64?
    private let inbox: AsyncStream<[UInt8]>
    private let inboxSink: AsyncStream<[UInt8]>.Continuation
    private let pending = NIOLockedValueBox(0)
    static let inboxHighWater = 256 * 1024

    init(service: ExecService) {
        self.service = service
        (inbox, inboxSink) = AsyncStream.makeStream(of: [UInt8].self)
    }

    func connectionDidOpen(_ connection: any WebSocketConnection) {
        self.connection = connection
        // `decide` looked at the count before the handshake; the slot is taken now, and a connection that lost the
        // race to the last one is closed as the handshake would have been refused.
        guard let number = service.running.acquire(limit: service.settings.maxProcesses) else {
            connection.close(code: .tryAgainLater, reason: "too many programs running")
            return
        }
        slot = number
        let environment = ExecEnvironment.variables(
            for: connection.request, mountPath: service.mountPath, connectionNumber: number,
            inheritedPath: getenv("PATH").map { String(cString: $0) })
        let service = self.service, inbox = self.inbox, pending = self.pending
        task = Task {
            await ExecHandler.run(service: service, environment: environment, inbox: inbox, pending: pending, connection: connection)
            service.running.release()
        }
    }

    func connection(_ connection: any WebSocketConnection, didReceive message: WebSocketMessage) {
        var bytes = Array(message.data.readableBytesView)
        if !service.settings.binary { bytes.append(0x0A) }
        let total = pending.withLockedValue { count -> Int in
            count += bytes.count
            return count
        }
        inboxSink.yield(bytes)
        if total > Self.inboxHighWater { connection.setReadingPaused(true) }
    }

    func connectionDidClose(_ connection: any WebSocketConnection, info: WebSocketCloseInfo) {
        inboxSink.finish()
        // Cancelling the run makes swift-subprocess carry out the teardown: TERM, then KILL after the grace.
        task?.cancel()
    }

    /// `count` bytes reached the program: reading from the client resumes once the backlog is down to half.
    private static func wrote(_ count: Int, pending: NIOLockedValueBox<Int>, connection: any WebSocketConnection) {
        let left = pending.withLockedValue { pending -> Int in
            pending -= count
            return pending
        }
        if left <= Self.inboxHighWater / 2 { connection.setReadingPaused(false) }
    }

    private static func run(service: ExecService, environment: [String: String], inbox: AsyncStream<[UInt8]>,
                            pending: NIOLockedValueBox<Int>, connection: any WebSocketConnection) async {
        let settings = service.settings
        var options = PlatformOptions()
        options.teardownSequence = [.gracefulShutDown(allowedDurationToNextStep: settings.killGrace)]
        let logger = service.logger
        let path = connection.request.path
        do {
            let result = try await Subprocess.run(
                .path(FilePath(settings.command[0])), arguments: Arguments(Array(settings.command.dropFirst())),
                environment: .custom(Dictionary(uniqueKeysWithValues: environment.map { (Environment.Key(stringLiteral: $0.key), $0.value) })),
                platformOptions: options, input: .inputWriter, output: .sequence, error: .sequence
            ) { execution -> ExecOutcome in
                let pid = "\(execution.processIdentifier)"
                logger.info("program started", metadata: ["path": "\(path)", "pid": "\(pid)"])
                return await withTaskGroup(of: ExecOutcome?.self) { group in
                    group.addTask {
                        // The client's messages, in order; the end of them is the end of the program's stdin.
                        for await bytes in inbox {
                            do { _ = try await execution.standardInputWriter.write(bytes) } catch { break }
                            wrote(bytes.count, pending: pending, connection: connection)
                        }
                        try? await execution.standardInputWriter.finish()
                        return nil
                    }
                    group.addTask {
                        do {
                            for try await line in execution.standardError.strings() {
                                logger.notice("program stderr", metadata: ["pid": "\(pid)", "line": "\(line)"])
                            }
                        } catch {}
                        return nil
                    }
                    group.addTask {
                        await ExecOutput.forward(execution.standardOutput, to: connection, settings: settings)
                    }
                    var outcome: ExecOutcome?
                    for await finished in group {
                        if let finished {
                            outcome = finished
                            group.cancelAll()
                        }
                    }
                    return outcome ?? .finished
                }
            }
            switch result.closureResult {
            case .tooLong:
                connection.close(code: .messageTooBig, reason: "the program wrote more than \(settings.maxMessageSize) bytes without a newline")
            case .finished:
                let (code, reason) = Self.closeCode(for: result.terminationStatus)
                logger.info("program ended", metadata: ["path": "\(path)", "status": "\(result.terminationStatus)"])
                connection.close(code: code, reason: reason)
            }
        } catch {
            logger.error("cannot start the program", metadata: ["command": "\(settings.command)", "error": "\(error)"])
            connection.close(code: .internalServerError, reason: "cannot start the program")
        }
    }

    /// The close code a program's end means: 1000 for exit status 0, else 1011 with the status in the reason.
    static func closeCode(for status: TerminationStatus) -> (CloseCode, String) {
        switch status {
        case .exited(0): return (.normalClosure, "")
        case .exited(let code): return (.internalServerError, "the program exited with status \(code)")
        case .signaled(let signal): return (.internalServerError, "the program was killed by signal \(signal)")
        }
    }
}

/// How the stdout side ended.
enum ExecOutcome: Sendable {
    /// Stdout reached its end (the program closed it or exited).
    case finished
    /// A line (or read) longer than the service allows.
    case tooLong
}
