/// A topic's name as a client gives it in the path (`/broadcast/{topic}`): one path segment of URL-unreserved
/// characters (`A–Z a–z 0–9 - . _ ~`) and `:`, so that a name means the same in a URL, a log line, a metric
/// label and the cluster backplane, with nothing to decode or escape.
public struct BroadcastTopicName: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String

    /// A name as another gateway sent it (already checked where it was published).
    public init(trusted rawValue: String) { self.rawValue = rawValue }

    /// The service's own path: the one topic of a service without named topics.
    public static let unnamed = BroadcastTopicName(trusted: "")

    /// The topic a request path names below `mountPath`: the path itself is the unnamed topic `""`.
    public static func parse(path: String, mountPath: String, limits: BroadcastSettings.TopicLimits) -> Result<Self, Invalid> {
        let rest = path.utf8.dropFirst(mountPath.utf8.count)
        guard let first = rest.first else { return .success(.unnamed) }
        guard first == UInt8(ascii: "/") else { return .failure(.notBelowService) }
        let name = rest.dropFirst()
        if name.isEmpty { return .failure(.empty) }
        if name.count > limits.maxNameLength { return .failure(.tooLong(name.count, limit: limits.maxNameLength)) }
        if let bad = name.first(where: { !Self.allowed($0) }) { return .failure(.character(bad)) }
        return .success(Self(trusted: String(decoding: name, as: UTF8.self)))
    }

    private static func allowed(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: ":"):
            return true
        default:
            return false
        }
    }

    public var description: String { rawValue.isEmpty ? "(the service's own)" : rawValue }

    /// Why a path names no acceptable topic; the reason never repeats the client's bytes.
    public enum Invalid: Error, Sendable, Hashable, CustomStringConvertible {
        case notBelowService
        case empty
        case tooLong(Int, limit: Int)
        case character(UInt8)

        public var description: String {
            switch self {
            case .notBelowService: return "the path is not a topic of this service"
            case .empty: return "the topic name is empty"
            case .tooLong(let length, let limit): return "the topic name has \(length) bytes, more than the limit of \(limit)"
            case .character(let byte):
                return "the topic name has a character outside A-Z a-z 0-9 - . _ ~ : (byte 0x\(String(byte, radix: 16)))"
            }
        }
    }
}
