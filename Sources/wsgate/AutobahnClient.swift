import ArgumentParser
import NIOCore
import WebSocketAPI
import WebSocketTransport

/// `wsgate autobahn-client`: the Autobahn|TestSuite fuzzingserver client loop, over the library client.
struct AutobahnClient: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "autobahn-client",
        abstract: "Run every Autobahn|TestSuite case against a fuzzingserver, echoing each message.")

    @Option(help: "Base URL of the fuzzingserver, e.g. ws://127.0.0.1:9001.") var url: String
    @Option(help: "Agent name the reports are filed under.") var agent = "wsgate"
    @Option(help: "Log level.") var logLevel = "warning"
    @Flag(help: "Do not offer permessage-deflate (offered by default, as browsers do).") var noCompression = false

    func run() async throws {
        let logger = makeLogger(level: logLevel)
        let base = url.hasSuffix("/") ? String(url.dropLast()) : url
        let agentQuery = agent.addingQueryEscapes()
        var configuration = WebSocketClientConfiguration()
        if noCompression { configuration.compression = nil }

        let counter = try await WebSocketClient.connect(to: "\(base)/getCaseCount", logger: logger)
        var count = 0
        for await message in counter.messages {
            count = Int(message.text) ?? 0
        }
        printError("autobahn: \(count) cases")

        // Each case may open several connections in a row or none; a failure to connect is the case's verdict.
        for caseNumber in 1...max(count, 1) where count > 0 {
            do {
                let ws = try await WebSocketClient.connect(
                    to: "\(base)/runCase?case=\(caseNumber)&agent=\(agentQuery)", configuration: configuration, logger: logger)
                for await message in ws.messages {
                    do { try await ws.send(message) } catch { break }
                }
                _ = await ws.closeInfo()
            } catch {
                printError("case \(caseNumber): \(error)")
            }
        }
        let reports = try await WebSocketClient.connect(to: "\(base)/updateReports?agent=\(agentQuery)", logger: logger)
        for await _ in reports.messages {}
        _ = await reports.closeInfo()
        printError("autobahn: reports updated for agent \(agent)")
    }
}

extension String {
    /// Percent-encodes everything but unreserved characters (RFC 3986 §2.3), for a query value.
    func addingQueryEscapes() -> String {
        var out = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(UnicodeScalar(byte))
            default:
                out += "%" + hex(byte).uppercased()
            }
        }
        return out
    }
}
