import Foundation
import Testing
@testable import WSGateConfig

/// docs/configuration.md's reference against the keys the parser accepts (`ConfigurationSchema`, which the parser's
/// mappings are checked with): every key has its row, and every row is a key.
@Suite struct ConfigurationReferenceTests {
    static let reference: String = {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        return (try? String(contentsOf: docs, encoding: .utf8)) ?? ""
    }()

    /// The names in the first column of the reference table.
    static var documented: Set<String> {
        Set(reference.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("| `"), let end = line.dropFirst(3).firstIndex(of: "`") else { return nil }
            return String(line[line.index(line.startIndex, offsetBy: 3)..<end])
        })
    }

    @Test func everyKeyTheParserAcceptsIsDocumented() {
        #expect(!Self.reference.isEmpty, "docs/configuration.md not found")
        let documented = Self.documented
        for section in ConfigurationSchema.all {
            for key in section.keys.sorted() {
                #expect(documented.contains(section.name(of: key)), "docs/configuration.md has no row for \(section.name(of: key))")
            }
        }
    }

    @Test func everyDocumentedKeyIsOneTheParserAccepts() {
        let known = Set(ConfigurationSchema.all.flatMap { section in section.keys.map { section.name(of: $0) } })
        for name in Self.documented.sorted() {
            #expect(known.contains(name), "docs/configuration.md documents \(name), which the parser does not accept")
        }
    }

    @Test func theParserRefusesAKeyOutsideTheSchema() {
        #expect(throws: ConfigurationErrors.self) {
            _ = try GatewayConfiguration.parse(yaml: "limits:\n  max_mesage_size: 10\n")
        }
    }
}
