import Foundation

/// The tokens and keys of `Fixtures/fixtures.json`, made by `make-fixtures.py` with openssl and PyJWT: expected
/// values from libraries other than the one under test.
struct Fixtures: Decodable {
    var now: Double
    var issuer: String
    var audience: String
    var secret: String
    var rsa_public_pem: String
    var ec_public_pem: String
    var ed25519_public_pem: String
    var jwks: String
    var tokens: [String: String]
    var certificates_der_base64: [String: String]

    func certificate(_ name: String) -> [UInt8] {
        Array(Data(base64Encoded: certificates_der_base64[name]!)!)
    }

    static let shared: Fixtures = {
        let url = Bundle.module.url(forResource: "fixtures", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(Fixtures.self, from: Data(contentsOf: url))
    }()

    func token(_ name: String) -> String {
        guard let token = tokens[name] else { fatalError("no fixture token \(name): re-run make-fixtures.py") }
        return token
    }
}
