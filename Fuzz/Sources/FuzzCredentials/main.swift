// libFuzzer target: reading a handshake's credential (`HandshakeCredentials.read`), the parsing every
// access-controlled service runs on what any client sends.
//
// Input: a control byte, then fields separated by 0x00 — the Authorization value, the query, the Cookie value,
// then one offered subprotocol per field — each decoded as UTF-8 with replacement characters. The control byte's
// bits switch the sources on (1 header, 2 query, 4 cookie, 8 subprotocol); bit 16 names the query parameter and
// cookie `t` instead of `access_token`; bit 32 sends each field twice (repeated fields).
//
// Invariants (any violation aborts):
//   * no crash, no ASan report; reading twice gives the same result;
//   * a token read is non-empty, at most `maxTokenLength` bytes, and came from a source that is on;
//   * the query handed on holds no pair named like the token's parameter, and is a subsequence of the input's
//     pairs; the offer handed on is the input's offer minus the Kubernetes entries, in order, when that source is on.
import FuzzSupport
import WebSocketEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start, count > 0 else { return 0 }
    let bytes = UnsafeRawBufferPointer(start: start, count: count)
    let control = bytes[0]
    let fields = bytes.dropFirst().split(separator: 0, omittingEmptySubsequences: false).map { String(decoding: $0, as: UTF8.self) }
    let name = control & 16 != 0 ? "t" : "access_token"
    let sources = CredentialSources(authorizationHeader: control & 1 != 0, queryParameter: control & 2 != 0 ? name : nil,
                                    cookie: control & 4 != 0 ? name : nil, subprotocol: control & 8 != 0)
    let times = control & 32 != 0 ? 2 : 1
    var headers = HTTPFields()
    if fields.count > 0 { for _ in 0..<times { headers.add("Authorization", fields[0]) } }
    if fields.count > 2 { for _ in 0..<times { headers.add("Cookie", fields[2]) } }
    let query = fields.count > 1 ? fields[1] : nil
    let offered = fields.count > 3 ? Array(fields[3...]) : []

    let first = HandshakeCredentials.read(headers: headers, query: query, offeredSubprotocols: offered, sources: sources)
    let second = HandshakeCredentials.read(headers: headers, query: query, offeredSubprotocols: offered, sources: sources)
    invariant(first == second, "two reads differ: \(first) / \(second)")
    guard case .success(let read) = first else { return 0 }
    if let token = read.token {
        invariant(!token.token.isEmpty, "an empty token from \(token.source)")
        invariant(token.token.utf8.count <= HandshakeCredentials.maxTokenLength, "a token of \(token.token.utf8.count) bytes")
        switch token.source {
        case .authorizationHeader: invariant(sources.authorizationHeader, "a header token with the header off")
        case .query: invariant(sources.queryParameter != nil, "a query token with the query off")
        case .cookie: invariant(sources.cookie != nil, "a cookie token with the cookie off")
        case .subprotocol: invariant(sources.subprotocol, "a subprotocol token with the subprotocol off")
        }
    }
    if let parameter = sources.queryParameter, let rest = read.query {
        let pairs = rest.split(separator: "&", omittingEmptySubsequences: false)
        invariant(!pairs.contains { HandshakeCredentials.percentDecoded($0.prefix { $0 != "=" }) == parameter },
                  "the query handed on still names \(parameter): \(rest.debugDescription)")
        let input = (query ?? "").split(separator: "&", omittingEmptySubsequences: false)
        var index = input.startIndex
        for pair in pairs {
            while index < input.endIndex, input[index] != pair { index += 1 }
            invariant(index < input.endIndex, "\(rest.debugDescription) is not a subsequence of \(query.debugDescription)")
            index += 1
        }
    }
    if sources.subprotocol {
        invariant(read.offeredSubprotocols == offered.filter { !$0.hasPrefix(CredentialSources.subprotocolPrefix) },
                  "offer handed on \(read.offeredSubprotocols) from \(offered)")
    } else {
        invariant(read.offeredSubprotocols == offered, "the offer changed with the subprotocol source off")
    }
    return 0
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
