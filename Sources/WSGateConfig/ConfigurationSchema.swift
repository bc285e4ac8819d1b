/// Every key the configuration file may hold, by the mapping it belongs to. The parser refuses any other key with
/// these lists, and a test checks that `docs/configuration.md` documents each one under its full name — so a key
/// cannot be added without its documentation.
package enum ConfigurationSchema {
    /// A mapping of the file: where it sits (as the reference names it) and its keys.
    package struct Section: Sendable {
        /// `services[].compression`, `listeners[].tls`, … (`""` for the top of the file).
        package let place: String
        package let keys: Set<String>

        /// `place.key`, the name the reference gives it.
        package func name(of key: String) -> String { place.isEmpty ? key : "\(place).\(key)" }
    }

    package static let file = Section(place: "", keys: ["listeners", "services", "limits", "log", "metrics", "console", "cluster"])
    package static let metrics = Section(place: "metrics", keys: ["enabled", "path"])
    package static let console = Section(place: "console", keys: ["enabled", "path", "live_path"])
    package static let log = Section(place: "log", keys: ["level", "format"])
    package static let listener = Section(place: "listeners[]", keys: ["host", "port", "tls", "advertise"])
    package static let tls = Section(place: "listeners[].tls", keys: ["cert", "key", "allow_plaintext", "client_ca"])
    package static let limits = Section(place: "limits", keys: [
        "max_message_size", "max_connections", "max_connections_per_address", "handshake_timeout", "max_handshake_size",
        "ping_interval", "pong_timeout", "idle_timeout", "max_send_queue", "shutdown_grace",
        "handshakes_per_second_per_address", "handshake_burst", "read_budget", "compressed_read_budget",
    ])
    package static let service = Section(place: "services[]", keys: [
        "path", "type", "allowed_origins", "compression", "auth", "rate_limit",
        "backend", "targets", "target_from",  // tcp-proxy
        "port", "host", "realm", "htdigest", "ca_file", "nonce_lifetime", "nonce_secret_file", "max_websocket_message",
        "max_chunk_size", "transaction_timeout", "allow_anonymous",  // msrp
        "topics", "publish", "subscribe",  // broadcast
        "command", "max_processes", "binary", "kill_grace",  // exec
    ])
    package static let compression = Section(place: "services[].compression", keys: [
        "enabled", "server_max_window_bits", "client_max_window_bits", "server_no_context_takeover",
        "client_no_context_takeover", "level", "memory_level", "min_size", "rest_after", "rest_history",
    ])
    package static let rateLimit = Section(place: "services[].rate_limit",
                                           keys: ["messages_per_second", "bytes_per_second", "burst", "close_after"])
    package static let topics = Section(place: "services[].topics", keys: ["max", "max_name_length"])
    /// `publish:` and `subscribe:` of a broadcast service, when they name who may.
    package static let permission = Section(place: "services[].publish", keys: ["subjects", "claims"])
    package static let auth = Section(place: "services[].auth", keys: ["jwt", "api_key", "mtls", "credentials", "require"])
    package static let jwt = Section(place: "services[].auth.jwt", keys: [
        "secret_file", "algorithms", "public_keys", "jwks_file", "issuer", "audience", "leeway", "require_exp",
    ])
    package static let apiKey = Section(place: "services[].auth.api_key", keys: ["file"])
    package static let mtls = Section(place: "services[].auth.mtls", keys: [])
    package static let credentials = Section(place: "services[].auth.credentials", keys: ["header", "query", "cookie", "subprotocol"])
    package static let require = Section(place: "services[].auth.require", keys: ["subjects", "claims"])
    package static let cluster = Section(place: "cluster", keys: ["node_id", "backplane"])
    package static let backplane = Section(place: "cluster.backplane", keys: ["postgres"])
    package static let postgres = Section(place: "cluster.backplane.postgres",
                                          keys: ["url", "password_file", "retention", "required", "max_buffered_bytes"])

    package static let all: [Section] = [
        file, metrics, console, log, listener, tls, limits, service, compression, rateLimit, topics, permission, auth, jwt,
        apiKey, mtls, credentials, require, cluster, backplane, postgres,
    ]
}
