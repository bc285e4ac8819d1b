import WSGateExec
import NIOCore
import WSGateServices
import WebSocketEngine
import WebSocketTransport

/// What a configuration file describes: listeners, services on paths, limits and logging. The embedded
/// default (`GatewayConfiguration.default`) is what `wsgate serve` runs without a file.
public struct GatewayConfiguration: Sendable, Equatable {
    public struct Listener: Sendable, Equatable {
        public var host: String
        public var port: Int
        public var tls: TLS?
        /// `HOST:PORT` a WSR create names for its RTMP leg (`advertise`); nil: the request's Host.
        public var advertise: String?
        public init(host: String, port: Int, tls: TLS? = nil, advertise: String? = nil) {
            self.host = host
            self.port = port
            self.tls = tls
            self.advertise = advertise
        }
    }

    public struct TLS: Sendable, Equatable {
        public var certificateChainFile: String
        public var privateKeyFile: String
        public var allowPlaintext: Bool
        /// PEM CA certificates that client certificates are verified against (asked for, not required).
        public var clientCAFile: String?
        public init(certificateChainFile: String, privateKeyFile: String, allowPlaintext: Bool = false, clientCAFile: String? = nil) {
            self.certificateChainFile = certificateChainFile
            self.privateKeyFile = privateKeyFile
            self.allowPlaintext = allowPlaintext
            self.clientCAFile = clientCAFile
        }
    }

    public enum ServiceKind: Sendable, Equatable {
        case echo
        case broadcast(Broadcast)
        case tcpProxy(host: String, port: Int)
        /// A TCP proxy with a named allowlist of backends, the name picked as `selector` says.
        case tcpProxyTargets(selector: TCPProxyTargets.Selector, backends: [String: TCPProxyTargets.Backend])
        case msrp(MSRP)
        /// A program per connection (websocketd).
        case exec(ExecService.Settings)
    }

    /// A broadcast service's topics and who may publish and subscribe.
    public struct Broadcast: Sendable, Equatable {
        /// Named topics below the path (`topics:`); nil: the path is the one topic.
        public var topics: BroadcastSettings.TopicLimits?
        public var publish: Permission = .anyone
        public var subscribe: Permission = .anyone

        /// `anyone`, `nobody`, or what the handshake identity must be (`{subjects, claims}`, as `auth.require`).
        public enum Permission: Sendable, Equatable {
            case anyone
            case nobody
            case requires(AccessRequirement)
        }

        public init(topics: BroadcastSettings.TopicLimits? = nil) { self.topics = topics }
    }

    /// The MSRP relay's own settings (its WebSocket leg is the service's path).
    public struct MSRP: Sendable, Equatable {
        /// The MSRP TCP listener's port.
        public var port: Int = 2855
        /// The host name in the relay's URIs (`Use-Path`); by default the first listener's host.
        public var host: String?
        /// Digest realm for AUTH; with `htdigest`, credentials are required.
        public var realm: String?
        /// An Apache htdigest file (`user:realm:HA1` lines).
        public var htdigest: String?
        /// CA certificates (PEM) that `msrps` next hops are verified against instead of the system's.
        public var caFile: String?
        /// Seconds a Digest nonce stays valid; an answer to an older one gets `401 … stale=true`.
        public var nonceLifetime = 300
        /// A file whose bytes (whitespace at the end trimmed, at least 16) key the Digest nonces; the nodes of a
        /// cluster share it so that any node accepts a nonce another issued. Nil: a random key per process.
        public var nonceSecretFile: String?
        /// The largest chunk sent as one WebSocket message; bigger chunks are re-chunked for WebSocket legs.
        public var maxWebSocketMessage = 64 << 10
        /// Seconds a forwarded request waits for the next hop's response before the source gets a `408` REPORT
        /// (and the longest a streamed chunk may pause between two of its bytes).
        public var transactionTimeout: Double = 30
        /// The largest SEND chunk streamed through from a TCP or TLS leg (its body is never held whole).
        public var maxChunkSize = 1 << 30
        /// AUTH without Digest and without a WebSocket handshake identity admitted (needed, in a file, for a relay
        /// with neither `auth` nor `realm`).
        public var allowAnonymous = false
        /// Set when the relay came from the command line (`--msrp-port`), whose anonymous relay predates access
        /// control and keeps working (with a warning) unless `auth` or a realm is given.
        public var fromFlags = false
        public init() {}
    }

    /// A service's access control (`auth:`): the methods (any one that succeeds admits), where credentials are
    /// read, and what the identity must be. Files are named here and read when the gateway starts.
    public struct Auth: Sendable, Equatable {
        public struct JWT: Sendable, Equatable {
            /// HMAC secret file (its bytes, whitespace at the end trimmed).
            public var secretFile: String?
            /// HMAC algorithms accepted with the secret.
            public var algorithms = ["HS256", "HS384", "HS512"]
            /// PEM public key files (RSA, EC, Ed25519).
            public var publicKeyFiles: [String] = []
            /// A JWKS file.
            public var jwksFile: String?
            public var issuers: [String]?
            public var audiences: [String]?
            /// Seconds of clock skew allowed on `exp` and `nbf`.
            public var leeway: Double = 30
            public var requireExpiry = false
            public init(secretFile: String? = nil) { self.secretFile = secretFile }
        }

        public var jwt: JWT?
        /// A file of SHA-256 hashes of the accepted API keys.
        public var apiKeyFile: String?
        /// Client certificates verified by a listener with `tls.client_ca`.
        public var mtls = false
        public var sources = CredentialSources.default
        /// Subjects allowed; nil: any.
        public var subjects: [String]?
        /// Claim → words it must contain.
        public var requiredClaims: [String: [String]] = [:]
        public init(jwt: JWT? = nil, apiKeyFile: String? = nil) {
            self.jwt = jwt
            self.apiKeyFile = apiKeyFile
        }
    }

    public struct Service: Sendable, Equatable {
        public var path: String
        public var kind: ServiceKind
        /// nil: any origin.
        public var allowedOrigins: [String]?
        /// nil: permessage-deflate declined.
        public var compression: PerMessageDeflate.ServerSettings?
        /// nil: anyone who reaches the port may use the service.
        public var auth: Auth?
        /// What each client may send; nil: no limit.
        public var rateLimit: InboundRateLimit?
        public init(path: String, kind: ServiceKind, allowedOrigins: [String]? = nil,
                    compression: PerMessageDeflate.ServerSettings? = .default) {
            self.path = path
            self.kind = kind
            self.allowedOrigins = allowedOrigins
            self.compression = compression
        }
    }

    public struct Limits: Sendable, Equatable {
        public var maxMessageSize = 16 << 20
        public var maxConnections = 100_000
        /// nil: no per-address limit.
        public var maxConnectionsPerAddress: Int?
        public var handshakeTimeout: Double = 10
        public var maxHandshakeSize = 16 << 10
        /// nil: no pings.
        public var pingInterval: Double? = 30
        public var pongTimeout: Double = 20
        /// nil: no idle timeout.
        public var idleTimeout: Double?
        public var maxSendQueue = 64 << 20
        public var shutdownGrace: Double = 10
        /// New handshakes per second per client address (`429` above); nil: no limit.
        public var handshakesPerSecondPerAddress: Double?
        /// Seconds' worth of handshakes an address may make at once.
        public var handshakeBurst: Double = 1
        /// Bytes one connection may read per turn of its event loop (fairness to the others and to newcomers).
        public var readBudget = 256 << 10
        /// The same for a connection that negotiated permessage-deflate.
        public var compressedReadBudget = 32 << 10
        public init() {}
    }

    public struct Log: Sendable, Equatable {
        public var level = "info"
        public var format = "text"
        public init() {}
    }

    /// The operator endpoints every listener serves beside the services (plain HTTP for the pages, a WebSocket
    /// for the console's live figures). nil paths turn an endpoint off.
    public struct Monitoring: Sendable, Equatable {
        /// Prometheus text exposition.
        public var metricsPath: String? = "/metrics"
        /// The web console page.
        public var consolePath: String? = "/"
        /// The WebSocket the console page reads its live figures from (served while the console is on).
        public var consoleLivePath = "/console/live"
        public init() {}
    }

    /// `HOST:PORT` (an IPv6 host in brackets), the form of a TCP backend in the file and on the command line.
    public static func parseHostPort<S: StringProtocol>(_ text: S) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":"), colon != text.startIndex,
              let port = Int(text[text.index(after: colon)...]), (1...65535).contains(port) else { return nil }
        var host = text[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { host = host.dropFirst().dropLast() }
        return host.isEmpty ? nil : (String(host), port)
    }

    public var listeners: [Listener]
    public var services: [Service]
    public var limits: Limits
    public var log: Log
    public var monitoring = Monitoring()
    /// Several gateways as one (`cluster:`); nil: this gateway alone.
    public var cluster: Cluster?

    /// This node's name and the broadcast backplane it shares with the others.
    public struct Cluster: Sendable, Equatable {
        /// Unique per node; by default the host name and a random suffix (new at each start).
        public var nodeID: String?
        public var backplane: Backplane?
        public init(nodeID: String? = nil, backplane: Backplane? = nil) {
            self.nodeID = nodeID
            self.backplane = backplane
        }
    }

    /// `cluster.backplane.postgres`.
    public struct Backplane: Sendable, Equatable {
        /// `postgres://USER[:PASSWORD]@HOST[:PORT]/DB`.
        public var url: String
        /// A file holding the password (whitespace at the end trimmed), instead of one in the URL.
        public var passwordFile: String?
        /// Seconds published messages are kept for nodes that were cut off.
        public var retention: Double = 60
        /// Refuse to start when PostgreSQL cannot be reached (else: serve local clients and retry).
        public var required = false
        /// Bytes of published messages held while PostgreSQL is away.
        public var maxBufferedBytes = 64 << 20
        public init(url: String) { self.url = url }
    }

    /// `ws://127.0.0.1:8080` with `/echo` and `/broadcast`, permessage-deflate on.
    public static let `default` = GatewayConfiguration(
        listeners: [Listener(host: "127.0.0.1", port: 8080)],
        services: [
            Service(path: "/echo", kind: .echo, allowedOrigins: nil, compression: .default),
            Service(path: "/broadcast", kind: .broadcast(.init(topics: .default)), allowedOrigins: nil, compression: .default),
        ],
        limits: Limits(), log: Log())
}
