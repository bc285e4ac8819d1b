/// permessage-deflate (RFC 7692): the parameters two endpoints agree on, and how each side's preferences
/// turn into an offer, a response, or a refusal.
public enum PerMessageDeflate {
    public static let extensionName = "permessage-deflate"

    /// What one connection agreed to (RFC 7692 §7.1). "Server" parameters describe the messages the server
    /// compresses; "client" parameters the messages the client compresses.
    public struct Parameters: Sendable, Hashable, CustomStringConvertible {
        /// The server resets its compressor after every message.
        public var serverNoContextTakeover: Bool
        /// The client resets its compressor after every message.
        public var clientNoContextTakeover: Bool
        /// Log2 of the largest window the server's compressor may use (8…15).
        public var serverMaxWindowBits: Int
        /// Log2 of the largest window the client's compressor may use (8…15).
        public var clientMaxWindowBits: Int

        public init(serverNoContextTakeover: Bool = false, clientNoContextTakeover: Bool = false,
                    serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 15) {
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
        }

        /// In the header's own terms, e.g. `server_max_window_bits=15; client_max_window_bits=15`.
        public var description: String {
            var parts: [String] = []
            if serverNoContextTakeover { parts.append("server_no_context_takeover") }
            if clientNoContextTakeover { parts.append("client_no_context_takeover") }
            parts.append("server_max_window_bits=\(serverMaxWindowBits)")
            parts.append("client_max_window_bits=\(clientMaxWindowBits)")
            return parts.joined(separator: "; ")
        }
    }

    /// How hard and with how much memory an endpoint compresses; local choices the peer never sees.
    public struct Tuning: Sendable, Hashable {
        /// zlib level 1 (fastest) … 9 (smallest); -1 is zlib's default (6). The default is 1, as gorilla and
        /// libwebsockets use: for chat-sized messages (100 B–2 KiB, each ended by a sync flush) level 6 costs four
        /// times the CPU of level 1 for 11 % fewer bytes (`Benchmarks/compression/ratio.py`), and with context
        /// takeover level 1 still sends a third fewer bytes than a peer compressing each message alone.
        public var compressionLevel: Int
        /// zlib memLevel 1…9: the compressor's hash tables take 2^(memoryLevel+9) bytes.
        public var memoryLevel: Int
        /// Messages shorter than this are sent uncompressed (RSV1 clear): deflate cannot shrink them, and
        /// skipping them is allowed message by message.
        public var minimumMessageSize: Int
        /// A connection without a compressed message in either direction for this long rests its codec: its zlib
        /// streams are ended, keeping only the history context takeover needs (`PerMessageDeflateCodec.rest()`).
        /// nil never rests. Read by the transport, which has the clock.
        public var restAfter: Duration?
        /// How much of what this side sent a resting codec keeps for its next compressor to refer back to.
        public var restHistoryBytes: Int

        public init(compressionLevel: Int = 1, memoryLevel: Int = 8, minimumMessageSize: Int = 32,
                    restAfter: Duration? = .seconds(5), restHistoryBytes: Int = 4096) {
            self.compressionLevel = compressionLevel
            self.memoryLevel = memoryLevel
            self.minimumMessageSize = minimumMessageSize
            self.restAfter = restAfter
            self.restHistoryBytes = restHistoryBytes
        }
    }

    /// A server's policy: what it accepts from client offers and what it asks for in its response.
    public struct ServerSettings: Sendable, Hashable {
        /// The largest window the server compresses with; a client's `server_max_window_bits` may lower it.
        public var serverMaxWindowBits: Int
        /// The largest window the server lets the client use, when the client offered `client_max_window_bits`
        /// (browsers do). 12 by default: a resting connection keeps the client's whole window (4 KiB, not 32), at a
        /// cost of ~8 % in the size of chat-like messages (BENCHMARKS.md, "Compression at rest").
        public var clientMaxWindowBits: Int
        /// Reset the server's compressor after each message (less memory between messages, worse ratio).
        public var serverNoContextTakeover: Bool
        /// Ask the client to reset its compressor after each message.
        public var clientNoContextTakeover: Bool
        public var tuning: Tuning

        public init(serverMaxWindowBits: Int = 15, clientMaxWindowBits: Int = 12, serverNoContextTakeover: Bool = false,
                    clientNoContextTakeover: Bool = false, tuning: Tuning = Tuning()) {
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.tuning = tuning
        }

        public static let `default` = ServerSettings()
    }

    /// A client's offer: what it asks of the server and what it will do itself.
    public struct ClientSettings: Sendable, Hashable {
        /// Ask the server to compress with at most this window (nil: do not ask; the server may use 15).
        public var serverMaxWindowBits: Int?
        /// The largest window the client compresses with. 15 is offered as a bare `client_max_window_bits`
        /// (the server may lower it); smaller values are offered as `client_max_window_bits=N`.
        public var clientMaxWindowBits: Int
        /// Ask the server to reset its compressor after every message.
        public var serverNoContextTakeover: Bool
        /// Reset the client's compressor after every message (announced in the offer).
        public var clientNoContextTakeover: Bool
        public var tuning: Tuning

        public init(serverMaxWindowBits: Int? = nil, clientMaxWindowBits: Int = 15, serverNoContextTakeover: Bool = false,
                    clientNoContextTakeover: Bool = false, tuning: Tuning = Tuning()) {
            self.serverMaxWindowBits = serverMaxWindowBits
            self.clientMaxWindowBits = clientMaxWindowBits
            self.serverNoContextTakeover = serverNoContextTakeover
            self.clientNoContextTakeover = clientNoContextTakeover
            self.tuning = tuning
        }

        public static let `default` = ClientSettings()

        /// The `Sec-WebSocket-Extensions` element to send (what Chromium sends, by default).
        public var offer: ExtensionOffer {
            var offer = ExtensionOffer(name: PerMessageDeflate.extensionName)
            if serverNoContextTakeover { offer.parameters.append(.init("server_no_context_takeover")) }
            if clientNoContextTakeover { offer.parameters.append(.init("client_no_context_takeover")) }
            if let bits = serverMaxWindowBits { offer.parameters.append(.init("server_max_window_bits", String(bits))) }
            offer.parameters.append(.init("client_max_window_bits", clientMaxWindowBits == 15 ? nil : String(clientMaxWindowBits)))
            return offer
        }
    }

    /// Why a server's response cannot be accepted (the client then fails the connection, §7.1).
    public struct ResponseError: Error, Sendable, Hashable, CustomStringConvertible {
        public var description: String
    }

    // MARK: Parameters on the wire

    /// The parameters of one offer or response, each at most once and with a valid value (§7.1).
    struct ParsedParameters {
        var serverNoContextTakeover = false
        var clientNoContextTakeover = false
        var serverMaxWindowBits: Int?
        /// `.some(nil)`: present without a value (allowed in offers only).
        var clientMaxWindowBits: Int??

        init?(_ element: ExtensionOffer) {
            var seen = Set<String>()
            for p in element.parameters {
                guard seen.insert(p.name.lowercased()).inserted else { return nil }
                switch p.name.lowercased() {
                case "server_no_context_takeover":
                    guard p.value == nil else { return nil }
                    serverNoContextTakeover = true
                case "client_no_context_takeover":
                    guard p.value == nil else { return nil }
                    clientNoContextTakeover = true
                case "server_max_window_bits":
                    guard let bits = p.value.flatMap(Self.windowBits) else { return nil }
                    serverMaxWindowBits = bits
                case "client_max_window_bits":
                    if let value = p.value {
                        guard let bits = Self.windowBits(value) else { return nil }
                        clientMaxWindowBits = .some(bits)
                    } else {
                        clientMaxWindowBits = .some(nil)
                    }
                default:
                    return nil
                }
            }
        }

        /// 8…15 written as 1*DIGIT with no leading zero (§7.1.2.1).
        static func windowBits(_ s: String) -> Int? {
            guard !s.isEmpty, s.count <= 2, s.first != "0", s.allSatisfy({ $0.isASCII && $0.isNumber }),
                  let n = Int(s), (8...15).contains(n) else { return nil }
            return n
        }
    }

    // MARK: Server side

    /// Picks the first offer the server can accept (§5: offers are in the client's order of preference) and
    /// returns the response element and the agreed parameters; nil when no offer is acceptable, in which case
    /// the connection goes on without compression.
    public static func accept(offers: [ExtensionOffer], settings: ServerSettings) -> (response: ExtensionOffer, parameters: Parameters)? {
        for offer in offers where offer.name.lowercased() == extensionName {
            guard let p = ParsedParameters(offer) else { continue }
            var agreed = Parameters(serverNoContextTakeover: p.serverNoContextTakeover || settings.serverNoContextTakeover,
                                    clientNoContextTakeover: p.clientNoContextTakeover || settings.clientNoContextTakeover,
                                    serverMaxWindowBits: min(p.serverMaxWindowBits ?? 15, settings.serverMaxWindowBits),
                                    clientMaxWindowBits: 15)
            var response = ExtensionOffer(name: extensionName)
            if agreed.serverNoContextTakeover { response.parameters.append(.init("server_no_context_takeover")) }
            if agreed.clientNoContextTakeover { response.parameters.append(.init("client_no_context_takeover")) }
            if agreed.serverMaxWindowBits < 15 || p.serverMaxWindowBits != nil {
                response.parameters.append(.init("server_max_window_bits", String(agreed.serverMaxWindowBits)))
            }
            if let offered = p.clientMaxWindowBits {
                // The client can limit its window; ask for ours if smaller, never above what it offered.
                let bits = min(offered ?? 15, settings.clientMaxWindowBits)
                agreed.clientMaxWindowBits = bits
                if bits < 15 || offered != nil { response.parameters.append(.init("client_max_window_bits", String(bits))) }
            }
            // A client that did not announce client_max_window_bits may use a 32 KiB window (§7.1.2.2): the
            // server's setting cannot be imposed on it, so the offer is still accepted at 15.
            return (response, agreed)
        }
        return nil
    }

    // MARK: Client side

    /// Checks the server's response against what the client offered (§7.1: any violation fails the connection).
    public static func validate(response: ExtensionOffer, offered settings: ClientSettings) -> Result<Parameters, ResponseError> {
        guard let p = ParsedParameters(response) else {
            return .failure(ResponseError(description: "invalid permessage-deflate parameters in the response: \(response.headerValue)"))
        }
        if settings.serverNoContextTakeover, !p.serverNoContextTakeover {
            return .failure(ResponseError(description: "server ignored server_no_context_takeover"))
        }
        if let asked = settings.serverMaxWindowBits {
            guard let bits = p.serverMaxWindowBits, bits <= asked else {
                return .failure(ResponseError(description: "server_max_window_bits above the \(asked) asked for, or missing"))
            }
        }
        var clientBits = settings.clientMaxWindowBits
        if let answered = p.clientMaxWindowBits {
            // client_max_window_bits was offered (always, by ClientSettings.offer); a response must give a value.
            guard let bits = answered else {
                return .failure(ResponseError(description: "client_max_window_bits without a value in the response"))
            }
            guard bits <= settings.clientMaxWindowBits else {
                return .failure(ResponseError(description: "client_max_window_bits=\(bits) above the \(settings.clientMaxWindowBits) offered"))
            }
            clientBits = bits
        }
        return .success(Parameters(serverNoContextTakeover: p.serverNoContextTakeover,
                                   clientNoContextTakeover: p.clientNoContextTakeover || settings.clientNoContextTakeover,
                                   serverMaxWindowBits: p.serverMaxWindowBits ?? 15,
                                   clientMaxWindowBits: clientBits))
    }

    /// The permessage-deflate element of a response's extensions, checked against the offer: nil when the
    /// server did not accept it.
    public static func negotiated(in accepted: [ExtensionOffer], offered settings: ClientSettings) -> Result<Parameters?, ResponseError> {
        let elements = accepted.filter { $0.name.lowercased() == extensionName }
        guard let element = elements.first else { return .success(nil) }
        guard elements.count == 1 else { return .failure(ResponseError(description: "permessage-deflate accepted twice")) }
        return validate(response: element, offered: settings).map { $0 }
    }
}
