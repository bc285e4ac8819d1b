import ArgumentParser

@main
struct WSGate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "wsgate",
        abstract: "A WebSocket gateway and client: RFC 6455, the hixie drafts, and an MSRP relay (WSR to come).",
        subcommands: [Serve.self, Connect.self, Listen.self, Token.self, MSRP.self, AutobahnClient.self, Bench.self]
    )
}
