/// The random identifiers MSRP asks for: transaction ids (RFC 4975 §7.1) and the ALPHANUM tokens session ids
/// and Message-IDs are made of.
extension MSRPHead {
    /// A transaction id: RFC 4975 §7.1 asks for at least 64 bits of randomness; 16 base-62 characters carry 95.
    public static func makeTransactionID(using generator: inout some RandomNumberGenerator) -> String {
        randomToken(length: 16, using: &generator)
    }

    static let alphanumerics = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)

    /// `length` random ALPHANUM characters (5.95 bits each).
    package static func randomToken(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        String(decoding: (0..<length).map { _ in alphanumerics.randomElement(using: &generator)! }, as: UTF8.self)
    }
}
