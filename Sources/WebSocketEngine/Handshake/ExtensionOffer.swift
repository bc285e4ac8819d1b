/// One element of a `Sec-WebSocket-Extensions` header (RFC 6455 §9.1): a name and its parameters.
///
/// This is the negotiation point extensions plug into: the server handshake parses every offer; an
/// extension (permessage-deflate) picks the first it accepts and answers with its own `ExtensionOffer`.
public struct ExtensionOffer: Sendable, Hashable {
    public var name: String
    /// Parameters in order; a parameter without `=value` has a nil value.
    public var parameters: [Parameter]

    public struct Parameter: Sendable, Hashable {
        public var name: String
        public var value: String?
        public init(_ name: String, _ value: String? = nil) { self.name = name; self.value = value }
    }

    public init(name: String, parameters: [Parameter] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// Parses every offer in the given header values; nil when the syntax is invalid.
    public static func parse(_ headerValues: [String]) -> [ExtensionOffer]? {
        var offers: [ExtensionOffer] = []
        for value in headerValues {
            for element in splitOutsideQuotes(value, separator: ",") {
                let parts = splitOutsideQuotes(element, separator: ";").map { $0.trimmingOWS() }
                guard let name = parts.first, isHTTPToken(name) else { return nil }
                var offer = ExtensionOffer(name: name)
                for part in parts.dropFirst() {
                    if let eq = part.firstIndex(of: "=") {
                        let key = part[..<eq].trimmingOWS()
                        var val = part[part.index(after: eq)...].trimmingOWS()
                        if val.hasPrefix("\""), val.hasSuffix("\""), val.count >= 2 { val = String(val.dropFirst().dropLast()) }
                        guard isHTTPToken(key), isHTTPToken(val) else { return nil }
                        offer.parameters.append(Parameter(key, val))
                    } else {
                        guard isHTTPToken(part) else { return nil }
                        offer.parameters.append(Parameter(part))
                    }
                }
                offers.append(offer)
            }
        }
        return offers
    }

    /// The header form, e.g. `permessage-deflate; client_max_window_bits=10`.
    public var headerValue: String {
        ([name] + parameters.map { p in p.value.map { "\(p.name)=\($0)" } ?? p.name }).joined(separator: "; ")
    }

    private static func splitOutsideQuotes(_ s: String, separator: Character) -> [String] {
        var result: [String] = []
        var current = ""
        var quoted = false
        for c in s {
            if c == "\"" { quoted.toggle() }
            if c == separator, !quoted {
                if !current.trimmingOWS().isEmpty { result.append(current) }
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.trimmingOWS().isEmpty { result.append(current) }
        return result
    }
}
