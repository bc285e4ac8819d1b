import ArgumentParser
import Foundation
import MSRPEngine
import NIOCore
import WSGateMSRP

/// `wsgate msrp`: try an MSRP relay from a shell — AUTH, print the Use-Path, send each stdin line to a
/// To-Path, print what arrives.
struct MSRP: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "msrp",
        abstract: "MSRP client: AUTH to a relay, print the Use-Path, send stdin lines to --to-path, print what arrives.")

    @Argument(help: "The relay: ws://HOST:PORT/msrp (its WebSocket leg; wsr://HOST:PORT/msrp reaches it over WebSocket over RTMP) or msrp://HOST:PORT;tcp (its TCP leg).") var url: String
    @Option(help: "Digest user for AUTH.") var user: String?
    @Option(help: "Digest password for AUTH.") var password: String?
    @Option(help: "Where messages go after the relay: the rest of the To-Path (URIs separated by spaces), e.g. a peer's Use-Path and URI.")
    var toPath: String?
    @Option(help: "Seconds to keep listening after stdin ends (default 1).") var linger: Double = 1
    @Option(help: "Chunk size in bytes for outgoing messages.") var chunkSize: Int = 2048

    func validate() throws {
        if (user == nil) != (password == nil) {
            throw ValidationError("--user and --password go together (Digest AUTH needs both)")
        }
    }

    func run() async throws {
        let client: MSRPClient
        do {
            client = try await MSRPClient.connect(to: url)
        } catch {
            printError("cannot connect to \(url): \(error)")
            throw ExitCode(1)
        }
        let usePath: [MSRPURI]
        do {
            (usePath, _) = try await client.auth(user: user, password: password)
        } catch {
            printError("AUTH failed: \(error)")
            throw ExitCode(1)
        }
        // Machine-readable first line: what a peer puts in its To-Path to reach this client.
        writeLine("Use-Path: \(usePath.map(\.description).joined(separator: " ")) \(client.localURI)", to: 1)
        let printer = Task {
            for await message in client.incoming {
                let text = String(decoding: message.body.readableBytesView, as: UTF8.self)
                if message.method == "REPORT" {
                    writeLine("REPORT \(message.status ?? "") from \(message.fromPath)", to: 1)
                } else {
                    writeLine("\(message.fromPath.split(separator: " ").last ?? ""): \(text)", to: 1)
                }
            }
        }
        let destination = try toPath.map { try MSRPURI.parsePath($0) }
        let lines = AsyncStream<String> { continuation in
            Thread.detach {
                while let line = readLine(strippingNewline: true) { continuation.yield(line) }
                continuation.finish()
            }
        }
        for await line in lines {
            guard let destination else { continue }
            do {
                try await client.send(ByteBuffer(string: line), toPath: usePath + destination, chunkSize: chunkSize)
            } catch {
                printError("SEND failed: \(error)")
            }
        }
        try? await Task.sleep(for: .seconds(linger))
        await client.close()
        printer.cancel()
    }
}
