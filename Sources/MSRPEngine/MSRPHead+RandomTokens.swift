/// The random identifiers MSRP asks for: transaction ids (RFC 4975 §7.1) and the ALPHANUM tokens session ids
/// and Message-IDs are made of.
extension MSRPHead {
    /// A transaction id: RFC 4975 §7.1 asks for at least 64 bits of randomness; 16 base-62 characters carry 95.
    public static func makeTransactionID(using generator: inout some RandomNumberGenerator) -> String {
        randomToken(length: 16, using: &generator)
    }

    static let alphanumerics = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789".utf8)

    /// `length` random ALPHANUM characters (5.95 bits each), eight from each 64-bit draw: the system generator is a
    /// system call per draw, and a relay makes a transaction id for every request it forwards. (2^64 / 62^8 > 84,000,
    /// so the last of the eight is uniform to within 0.1 %.)
    package static func randomToken(length: Int, using generator: inout some RandomNumberGenerator) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(length)
        var draw: UInt64 = 0
        for i in 0..<length {
            if i % 8 == 0 { draw = generator.next() }
            bytes.append(alphanumerics[Int(draw % 62)])
            draw /= 62
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
