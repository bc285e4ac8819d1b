import Testing
import WSGateCluster

@Suite struct BackplaneConfigurationTests {
    @Test func theURLGivesEveryPart() throws {
        let c = try BackplaneConfiguration(url: "postgres://wsgate:s%40cret@db.example:6432/cluster", nodeID: "n1")
        #expect(c.host == "db.example" && c.port == 6432 && c.user == "wsgate" && c.password == "s@cret" && c.database == "cluster")
        #expect(c.displayURL == "postgres://wsgate@db.example:6432/cluster", "the password never shows")
        let plain = try BackplaneConfiguration(url: "postgresql://u@127.0.0.1/db?sslmode=disable", nodeID: "n1")
        #expect(plain.port == 5432 && plain.password == nil && plain.database == "db")
        let v6 = try BackplaneConfiguration(url: "postgres://u@[::1]:5433/db", nodeID: "n1")
        #expect(v6.host == "::1" && v6.port == 5433)
    }

    @Test func badURLsSayWhatIsMissing() {
        for (url, why) in [("mysql://u@h/db", "must start with postgres://"), ("postgres://h:5432/db", "needs a user"),
                           ("postgres://u@h:5432", "needs a database"), ("postgres://u@h:99999/db", "port must be"),
                           ("postgres://u:%zz@h/db", "bad %-escape")] {
            #expect(throws: BackplaneConfiguration.URLError.self, "\(url)") {
                try BackplaneConfiguration(url: url, nodeID: "n")
            }
            do { _ = try BackplaneConfiguration(url: url, nodeID: "n") } catch { #expect(error.description.contains(why), "\(url): \(error)") }
        }
    }
}
