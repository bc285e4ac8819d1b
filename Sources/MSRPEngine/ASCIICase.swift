/// ASCII case folding without allocating: MSRP's scheme, host, transport and header names compare without regard
/// to case (RFC 4975 §6.1, §9), and the relay compares them for every request.
enum ASCIICase {
    @inline(__always)
    static func fold(_ c: UInt8) -> UInt8 {
        (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(c) ? c | 0x20 : c
    }

    static func equal(_ a: String, _ b: String) -> Bool {
        if a == b { return true } // the usual case, a memory comparison
        var a = a, b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                x.count == y.count && !zip(x, y).contains { fold($0) != fold($1) }
            }
        }
    }
}
