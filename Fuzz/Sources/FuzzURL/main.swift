// libFuzzer target: the WebSocket URL parser (`WebSocketURL(parsing:)`), on the input decoded as UTF-8
// with replacement characters for invalid sequences.
//
// Invariants checked for every URL that parses (any violation aborts):
//   * no crash, no ASan report;
//   * port in 0...65535, resource name starts with "/" and is printable ASCII (U+0021–U+007E),
//     host non-empty and lower-case;
//   * `description` parses again to an equal URL (apart from userinfo, which §3.2's construction omits),
//     and equals the URL built from the components with the memberwise initializer;
//   * the opening handshake a client builds for it is a request the server side accepts, with the
//     resource name as its target and the host header as its Host.
import FuzzSupport
import WebSocketEngine

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    guard let start else { return 0 }
    let text = String(decoding: UnsafeRawBufferPointer(start: start, count: count), as: UTF8.self)
    let url: WebSocketURL
    do {
        url = try WebSocketURL(parsing: text)
    } catch {
        return 0
    }
    let input = text.debugDescription
    invariant((0...65535).contains(url.port), "port \(url.port) from \(input)")
    invariant(url.resourceName.hasPrefix("/"), "resource name \(url.resourceName.debugDescription) from \(input)")
    invariant(url.resourceName.utf8.allSatisfy { $0 >= 0x21 && $0 <= 0x7E },
              "resource name \(url.resourceName.debugDescription) not printable ASCII, from \(input)")
    invariant(!url.host.isEmpty, "empty host from \(input)")
    invariant(url.host == url.host.lowercased(), "host \(url.host.debugDescription) not lower-case, from \(input)")

    var withoutUserinfo = url
    withoutUserinfo.userinfo = nil
    let description = url.description
    do {
        let again = try WebSocketURL(parsing: description)
        invariant(again == withoutUserinfo, "\(input) → \(description.debugDescription) → \(again), expected \(withoutUserinfo)")
    } catch {
        invariant(false, "\(input) → \(description.debugDescription), which does not parse: \(error)")
    }
    let rebuilt = WebSocketURL(secure: url.secure, host: url.host, port: url.port, resourceName: url.resourceName)
    invariant(rebuilt == withoutUserinfo, "memberwise \(rebuilt) != parsed \(withoutUserinfo) from \(input)")

    // The client's request for this URL must pass the server's checks.
    let handshake = ClientHandshake(url: url, key: "dGhlIHNhbXBsZSBub25jZQ==")
    let request = Array(handshake.request.utf8)
    var parser = HTTPHeadParser(limits: .init(maxHeadSize: 1 << 20))
    let parsed = request.withUnsafeBytes { parser.parseRequest($0) }
    guard case .complete(let head, let length) = parsed else {
        invariant(false, "the client request for \(input) does not parse: \(parsed)")
        return 0
    }
    invariant(length == request.count, "the client request parses to \(length) of \(request.count) bytes")
    invariant(head.target == url.resourceName, "request target \(head.target) for \(url.resourceName)")
    invariant(head.headers["Host"] == url.hostHeader, "Host \(head.headers["Host"] ?? "nil") for \(url.hostHeader)")
    if case .failure(let rejection) = ServerHandshake.validate(head) {
        invariant(false, "the server rejects the client request for \(input): \(rejection)")
    }
    return 0
}

// Top-level code runs in order: start libFuzzer last, after every global above is initialised.
runFuzzer { data, size in fuzz(data, size) }
