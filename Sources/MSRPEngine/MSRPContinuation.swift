/// How a chunk ends (RFC 4975 §7.1): more chunks follow, the message is complete, or it was aborted.
public enum MSRPContinuation: UInt8, Sendable, Hashable {
    case more = 0x2B // "+"
    case complete = 0x24 // "$"
    case aborted = 0x23 // "#"
}
