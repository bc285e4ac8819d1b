/// The two pre-RFC WebSocket protocols early browsers spoke (Safari 5, Chrome 4–13, Firefox 4 beta, Opera 11).
///
/// - `hixie75`: draft-hixie-thewebsocketprotocol-75 and its predecessors -54/-55 (seeds 001/003): `WebSocket-Origin`,
///   `WebSocket-Location`, no key, no closing handshake.
/// - `hixie76`: draft-hixie-thewebsocketprotocol-76 (= draft-ietf-hybi-00): `Sec-WebSocket-Key1/Key2` and an 8-byte
///   key3 answered with an MD5 challenge, the `Sec-` response headers, and the `0xFF 0x00` closing handshake.
///
/// Both frame text as `0x00 <UTF-8> 0xFF`; frames with the high bit set carry a base-128 length and are skipped.
public enum HixieDraft: String, Sendable, Hashable, CaseIterable {
    case hixie75
    case hixie76
}
