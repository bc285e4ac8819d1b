import ArgumentParser

@main
struct WSGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsgate",
        abstract: "A WebSocket gateway and client: RFC 6455 today, hixie drafts, WSR and an MSRP relay to come.",
        subcommands: [Serve.self, Connect.self, AutobahnClient.self, Bench.self]
    )
}
