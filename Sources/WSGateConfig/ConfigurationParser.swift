import WSGateCluster
import WSGateServices
import WebSocketEngine
import WebSocketTransport
import Yams

/// One problem in a configuration file, with where it is.
public struct ConfigurationIssue: Sendable, Equatable, CustomStringConvertible {
    public var line: Int
    public var column: Int
    public var message: String
    public var description: String { "\(line):\(column): \(message)" }
}

/// Every problem found in a file (not just the first), so one `--check-config` run shows them all.
public struct ConfigurationErrors: Error, Sendable, CustomStringConvertible {
    public var issues: [ConfigurationIssue]
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

extension GatewayConfiguration {
    /// Parses a YAML configuration file (format and every key: docs/configuration.md). Keys not given keep the
    /// embedded defaults; unknown keys, wrong types and values out of range are errors with their line.
    public static func parse(yaml: String) throws(ConfigurationErrors) -> GatewayConfiguration {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            throw ConfigurationErrors(issues: [Self.issue(of: error)])
        } catch {
            throw ConfigurationErrors(issues: [ConfigurationIssue(line: 0, column: 0, message: "\(error)")])
        }
        var reader = NodeReader()
        var configuration = GatewayConfiguration.default
        if let root { reader.read(root, into: &configuration) }
        if !reader.issues.isEmpty { throw ConfigurationErrors(issues: reader.issues) }
        return configuration
    }

    private static func issue(of error: YamlError) -> ConfigurationIssue {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
            return ConfigurationIssue(line: mark.line, column: mark.column, message: "YAML: \(problem)")
        default:
            return ConfigurationIssue(line: 0, column: 0, message: "YAML: \(error)")
        }
    }
}

/// Walks the YAML tree, filling a configuration and collecting issues with their positions.
struct NodeReader {
    var issues: [ConfigurationIssue] = []

    mutating func fail(_ node: Node?, _ message: String) {
        let mark = node?.mark
        issues.append(ConfigurationIssue(line: mark?.line ?? 0, column: mark?.column ?? 0, message: message))
    }

    /// The mapping's entries by key, reporting keys not in `allowed` and repeated keys.
    mutating func mapping(_ node: Node, _ what: String, allowed: Set<String>) -> [String: Node]? {
        guard case .mapping(let mapping) = node else {
            fail(node, "\(what) must be a mapping (key: value)")
            return nil
        }
        var out: [String: Node] = [:]
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { fail(key, "\(what): keys must be plain names"); continue }
            guard allowed.contains(name) else {
                fail(key, "unknown key \"\(name)\" in \(what) (expected one of: \(allowed.sorted().joined(separator: ", ")))")
                continue
            }
            if out[name] != nil { fail(key, "\"\(name)\" given twice in \(what)") }
            out[name] = value
        }
        return out
    }

    mutating func string(_ node: Node, _ what: String) -> String? {
        guard let s = node.scalar?.string, !s.isEmpty else { fail(node, "\(what) must be a non-empty string"); return nil }
        return s
    }

    mutating func integer(_ node: Node, _ what: String, in range: ClosedRange<Int>) -> Int? {
        guard let text = node.scalar?.string, let n = Int(text.replacingUnderscores()) else {
            fail(node, "\(what) must be a whole number")
            return nil
        }
        guard range.contains(n) else { fail(node, "\(what) must be between \(range.lowerBound) and \(range.upperBound), not \(n)"); return nil }
        return n
    }

    mutating func seconds(_ node: Node, _ what: String) -> Double? {
        guard let text = node.scalar?.string, let s = Double(text), s >= 0, s.isFinite else {
            fail(node, "\(what) must be a number of seconds (0 or more)")
            return nil
        }
        return s
    }

    mutating func bool(_ node: Node, _ what: String) -> Bool? {
        switch node.scalar?.string.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: fail(node, "\(what) must be true or false"); return nil
        }
    }

    mutating func sequence(_ node: Node, _ what: String) -> [Node]? {
        guard case .sequence(let items) = node else { fail(node, "\(what) must be a list"); return nil }
        return Array(items)
    }

    // MARK: The document

    mutating func read(_ root: Node, into c: inout GatewayConfiguration) {
        guard let top = mapping(root, "the file", allowed: ConfigurationSchema.file.keys)
        else { return }
        if let node = top["cluster"] { c.cluster = readCluster(node) }
        if let node = top["listeners"], let items = sequence(node, "listeners") {
            if items.isEmpty { fail(node, "listeners: at least one is needed") }
            c.listeners = items.compactMap { readListener($0) }
        }
        if let node = top["services"], let items = sequence(node, "services") {
            c.services = []
            for item in items {
                guard let service = readService(item) else { continue }
                if c.services.contains(where: { $0.path == service.path }) {
                    fail(item, "path \(service.path) is mounted twice")
                }
                c.services.append(service)
            }
        }
        if let node = top["limits"] { readLimits(node, into: &c.limits) }
        if c.services.contains(where: { $0.auth?.mtls == true }), !c.listeners.contains(where: { $0.tls?.clientCAFile != nil }) {
            fail(top["services"], "a service with auth.mtls needs a listener with tls.client_ca (the CAs client certificates are verified against)")
        }
        if let node = top["metrics"], let m = mapping(node, "metrics", allowed: ConfigurationSchema.metrics.keys) {
            if let n = m["path"], let path = endpointPath(n, "metrics.path") { c.monitoring.metricsPath = path }
            if let n = m["enabled"], bool(n, "metrics.enabled") == false { c.monitoring.metricsPath = nil }
        }
        if let node = top["console"], let m = mapping(node, "console", allowed: ConfigurationSchema.console.keys) {
            if let n = m["path"], let path = endpointPath(n, "console.path") { c.monitoring.consolePath = path }
            if let n = m["live_path"], let path = endpointPath(n, "console.live_path") { c.monitoring.consoleLivePath = path }
            if let n = m["enabled"], bool(n, "console.enabled") == false { c.monitoring.consolePath = nil }
        }
        if c.monitoring.consolePath != nil, c.services.contains(where: { $0.path == c.monitoring.consoleLivePath }) {
            fail(top["console"] ?? top["services"], "\(c.monitoring.consoleLivePath) is both a service and the console's live feed "
                 + "(move the service, set console.live_path, or console.enabled: false)")
        }
        if let metrics = c.monitoring.metricsPath, metrics == c.monitoring.consolePath {
            fail(top["console"] ?? top["metrics"], "metrics and console cannot share the path \(metrics)")
        }
        if let node = top["log"], let log = mapping(node, "log", allowed: ConfigurationSchema.log.keys) {
            if let n = log["level"], let level = string(n, "log.level") {
                let levels = ["trace", "debug", "info", "notice", "warning", "error", "critical"]
                if levels.contains(level) { c.log.level = level } else { fail(n, "log.level must be one of \(levels.joined(separator: ", "))") }
            }
            if let n = log["format"], let format = string(n, "log.format") {
                if ["text", "json"].contains(format) { c.log.format = format } else { fail(n, "log.format must be text or json") }
            }
        }
    }

    mutating func endpointPath(_ node: Node, _ what: String) -> String? {
        guard let path = string(node, what) else { return nil }
        guard path.hasPrefix("/") else { fail(node, "\(what) must start with /"); return nil }
        return path
    }

    mutating func readListener(_ node: Node) -> GatewayConfiguration.Listener? {
        guard let m = mapping(node, "a listener", allowed: ConfigurationSchema.listener.keys) else { return nil }
        var listener = GatewayConfiguration.Listener(host: "127.0.0.1", port: 8080)
        if let n = m["advertise"], let text = string(n, "advertise") {
            if GatewayConfiguration.parseHostPort(text) == nil { fail(n, "advertise must be HOST:PORT, not \(text)") }
            listener.advertise = text
        }
        if let n = m["host"], let host = string(n, "listener host") { listener.host = host }
        if let n = m["port"], let port = integer(n, "listener port", in: 0...65535) { listener.port = port }
        if let n = m["tls"], let tls = mapping(n, "tls", allowed: ConfigurationSchema.tls.keys) {
            let cert = tls["cert"].flatMap { string($0, "tls.cert") }
            let key = tls["key"].flatMap { string($0, "tls.key") }
            if cert == nil || key == nil { fail(n, "tls needs both cert and key (PEM files)") }
            let plain = tls["allow_plaintext"].flatMap { bool($0, "tls.allow_plaintext") } ?? false
            let clientCA = tls["client_ca"].flatMap { string($0, "tls.client_ca") }
            if let cert, let key {
                listener.tls = .init(certificateChainFile: cert, privateKeyFile: key, allowPlaintext: plain, clientCAFile: clientCA)
            }
        }
        return listener
    }

    mutating func readService(_ node: Node) -> GatewayConfiguration.Service? {
        guard let m = mapping(node, "a service", allowed: ConfigurationSchema.service.keys) else { return nil }
        guard let pathNode = m["path"], let path = string(pathNode, "service path") else {
            if m["path"] == nil { fail(node, "a service needs a path") }
            return nil
        }
        if !path.hasPrefix("/") { fail(pathNode, "service path must start with /") }
        guard let typeNode = m["type"], let type = string(typeNode, "service type") else {
            if m["type"] == nil { fail(node, "service \(path) needs a type (echo, broadcast, tcp-proxy, msrp, exec)") }
            return nil
        }
        let kind: GatewayConfiguration.ServiceKind
        switch type {
        case "echo": kind = .echo
        case "broadcast": kind = .broadcast(readBroadcast(m, path: path))
        case "tcp-proxy" where m["targets"] != nil:
            guard let targets = readTargets(m, path: path, node: node) else { return nil }
            kind = targets
        case "tcp-proxy":
            guard let b = m["backend"], let backend = string(b, "backend") else {
                fail(node, "tcp-proxy service \(path) needs backend: HOST:PORT (or targets: {NAME: HOST:PORT})")
                return nil
            }
            guard let (host, port) = GatewayConfiguration.parseHostPort(backend) else {
                fail(b, "backend must be HOST:PORT, not \(backend)")
                return nil
            }
            kind = .tcpProxy(host: host, port: port)
        case "msrp":
            var msrp = GatewayConfiguration.MSRP()
            if let n = m["port"], let v = integer(n, "msrp port", in: 0...65535) { msrp.port = v }
            if let n = m["host"] { msrp.host = string(n, "msrp host") }
            if let n = m["realm"] { msrp.realm = string(n, "msrp realm") }
            if let n = m["htdigest"] { msrp.htdigest = string(n, "htdigest file") }
            if let n = m["ca_file"] { msrp.caFile = string(n, "ca_file") }
            if let n = m["nonce_lifetime"], let v = integer(n, "nonce_lifetime", in: 1...86400) { msrp.nonceLifetime = v }
            if let n = m["nonce_secret_file"] { msrp.nonceSecretFile = string(n, "nonce_secret_file") }
            if let n = m["max_websocket_message"], let v = integer(n, "max_websocket_message", in: 1024...(16 << 20)) {
                msrp.maxWebSocketMessage = v
            }
            if let n = m["max_chunk_size"], let v = integer(n, "max_chunk_size", in: 1024...(1 << 40)) { msrp.maxChunkSize = v }
            if let n = m["transaction_timeout"], let v = seconds(n, "transaction_timeout") {
                if v > 0 { msrp.transactionTimeout = v } else { fail(n, "transaction_timeout must be more than 0 seconds") }
            }
            if msrp.htdigest != nil, msrp.realm == nil { fail(node, "msrp service \(path): htdigest needs a realm") }
            if let n = m["allow_anonymous"], let v = bool(n, "allow_anonymous") { msrp.allowAnonymous = v }
            if msrp.realm == nil, m["auth"] == nil, !msrp.allowAnonymous {
                fail(node, "msrp service \(path) would relay for anyone: give it auth (the WebSocket handshake's identity), "
                     + "a Digest realm and htdigest, or allow_anonymous: true")
            }
            kind = .msrp(msrp)
        case "exec":
            guard let exec = readExec(m, path: path, node: node) else { return nil }
            kind = .exec(exec)
        default:
            fail(typeNode, "unknown service type \"\(type)\" (expected echo, broadcast, tcp-proxy, msrp or exec)")
            return nil
        }
        if type != "tcp-proxy", let b = m["backend"] { fail(b, "backend applies to tcp-proxy services only") }
        if type != "exec" {
            for key in ["command", "max_processes", "binary", "kill_grace"] {
                if let n = m[key] { fail(n, "\(key) applies to exec services only") }
            }
        }
        if type != "broadcast" {
            for key in ["topics", "publish", "subscribe"] {
                if let n = m[key] { fail(n, "\(key) applies to broadcast services only") }
            }
        } else if case .broadcast(let b) = kind, m["auth"] == nil {
            for (key, permission) in [("publish", b.publish), ("subscribe", b.subscribe)] {
                if case .requires = permission, let n = m[key] {
                    fail(n, "\(key) on \(path) names who may, which needs auth on the service (the handshake identity)")
                }
            }
        }
        if type != "tcp-proxy", let t = m["targets"] ?? m["target_from"] { fail(t, "targets and target_from apply to tcp-proxy services only") }
        if type != "msrp" {
            for key in ["port", "host", "realm", "htdigest", "ca_file", "nonce_lifetime", "nonce_secret_file", "max_websocket_message",
                        "max_chunk_size", "transaction_timeout",
                        "allow_anonymous"] {
                if let n = m[key] { fail(n, "\(key) applies to msrp services only") }
            }
        }
        var service = GatewayConfiguration.Service(path: path, kind: kind, allowedOrigins: nil, compression: .default)
        if let n = m["allowed_origins"], let items = sequence(n, "allowed_origins") {
            service.allowedOrigins = items.compactMap { string($0, "an allowed origin") }
        }
        if let n = m["compression"] { service.compression = readCompression(n) }
        if let n = m["auth"] { service.auth = readAuth(n, path: path) }
        if let n = m["rate_limit"] { service.rateLimit = readRateLimit(n) }
        return service
    }

    /// `rate_limit: {messages_per_second, bytes_per_second, burst, close_after}` (`close_after: 0`: never close).
    mutating func readRateLimit(_ node: Node) -> InboundRateLimit? {
        guard let m = mapping(node, "rate_limit", allowed: ConfigurationSchema.rateLimit.keys) else {
            return nil
        }
        var limit = InboundRateLimit()
        if let n = m["messages_per_second"], let v = positive(n, "rate_limit.messages_per_second") { limit.messagesPerSecond = v }
        if let n = m["bytes_per_second"], let v = positive(n, "rate_limit.bytes_per_second") { limit.bytesPerSecond = v }
        if let n = m["burst"], let v = positive(n, "rate_limit.burst") { limit.burst = v }
        if let n = m["close_after"], let v = seconds(n, "rate_limit.close_after") { limit.closeAfter = v == 0 ? nil : v }
        if limit.messagesPerSecond == nil, limit.bytesPerSecond == nil {
            fail(node, "rate_limit needs messages_per_second or bytes_per_second")
        }
        return limit
    }

    /// A number above 0.
    mutating func positive(_ node: Node, _ what: String) -> Double? {
        guard let text = node.scalar?.string, let v = Double(text.replacingUnderscores()), v > 0, v.isFinite else {
            fail(node, "\(what) must be a number above 0")
            return nil
        }
        return v
    }

    /// `targets: {NAME: HOST:PORT, …}` and `target_from: query:NAME | path | claim:NAME` (default `query:token`,
    /// websockify's form); with `backend` beside them an error.
    mutating func readTargets(_ m: [String: Node], path: String, node: Node) -> GatewayConfiguration.ServiceKind? {
        if let b = m["backend"] { fail(b, "tcp-proxy service \(path): backend or targets, not both") }
        guard let t = m["targets"], case .mapping(let entries) = t else {
            fail(m["targets"], "targets must be a mapping (NAME: HOST:PORT)")
            return nil
        }
        var backends: [String: TCPProxyTargets.Backend] = [:]
        for (key, value) in entries {
            guard let name = key.scalar?.string, !name.isEmpty else { fail(key, "a target needs a name"); continue }
            guard let text = string(value, "target \(name)"), let (host, port) = GatewayConfiguration.parseHostPort(text) else {
                fail(value, "target \(name) must be HOST:PORT")
                continue
            }
            backends[name] = .init(host: host, port: port)
        }
        if backends.isEmpty { fail(t, "targets lists no backend") }
        var selector = TCPProxyTargets.Selector.query("token")
        if let n = m["target_from"], let text = string(n, "target_from") {
            let parts = text.split(separator: ":", maxSplits: 1).map(String.init)
            switch (parts[0], parts.count > 1 ? parts[1] : nil) {
            case ("path", nil): selector = .pathSegment
            case ("query", let name?) where !name.isEmpty: selector = .query(name)
            case ("claim", let name?) where !name.isEmpty: selector = .claim(name)
            default: fail(n, "target_from must be path, query:NAME or claim:NAME, not \(text)")
            }
        }
        if case .claim = selector, m["auth"] == nil {
            fail(m["target_from"], "target_from: claim needs auth on \(path) (the claim is the identity's)")
        }
        return .tcpProxyTargets(selector: selector, backends: backends)
    }

    /// `cluster: {node_id, backplane: {postgres: {url, password_file, retention, required, max_buffered_bytes}}}`.
    mutating func readCluster(_ node: Node) -> GatewayConfiguration.Cluster? {
        guard let m = mapping(node, "cluster", allowed: ConfigurationSchema.cluster.keys) else { return nil }
        var cluster = GatewayConfiguration.Cluster()
        if let n = m["node_id"] { cluster.nodeID = string(n, "cluster.node_id") }
        if let n = m["backplane"], let b = mapping(n, "cluster.backplane", allowed: ConfigurationSchema.backplane.keys) {
            guard let pg = b["postgres"] else {
                fail(n, "cluster.backplane names no backplane (postgres)")
                return cluster
            }
            guard let p = mapping(pg, "cluster.backplane.postgres",
                                  allowed: ConfigurationSchema.postgres.keys) else { return cluster }
            guard let u = p["url"], let url = string(u, "cluster.backplane.postgres.url") else {
                if p["url"] == nil { fail(pg, "cluster.backplane.postgres needs url: postgres://USER@HOST:PORT/DB") }
                return cluster
            }
            do { _ = try BackplaneConfiguration(url: url, nodeID: "check") } catch { fail(u, error.description) }
            var backplane = GatewayConfiguration.Backplane(url: url)
            if let n = p["password_file"] { backplane.passwordFile = string(n, "cluster.backplane.postgres.password_file") }
            if let n = p["retention"], let v = seconds(n, "cluster.backplane.postgres.retention") {
                if v >= 1 { backplane.retention = v } else { fail(n, "cluster.backplane.postgres.retention must be at least 1 second") }
            }
            if let n = p["required"], let v = bool(n, "cluster.backplane.postgres.required") { backplane.required = v }
            if let n = p["max_buffered_bytes"],
               let v = integer(n, "cluster.backplane.postgres.max_buffered_bytes", in: (64 << 10)...(4 << 30)) {
                backplane.maxBufferedBytes = v
            }
            cluster.backplane = backplane
        }
        return cluster
    }

    /// A broadcast service's `topics: true | {max, max_name_length}`, `publish:` and `subscribe:`.
    mutating func readBroadcast(_ m: [String: Node], path: String) -> GatewayConfiguration.Broadcast {
        var broadcast = GatewayConfiguration.Broadcast()
        if let n = m["topics"] {
            if n.scalar != nil {
                if bool(n, "topics") == true { broadcast.topics = .default }
            } else if let t = mapping(n, "topics", allowed: ConfigurationSchema.topics.keys) {
                var limits = BroadcastSettings.TopicLimits.default
                if let v = t["max"], let max = integer(v, "topics.max", in: 1...1_000_000) { limits.maxTopics = max }
                if let v = t["max_name_length"], let length = integer(v, "topics.max_name_length", in: 1...1024) {
                    limits.maxNameLength = length
                }
                broadcast.topics = limits
            }
        }
        if let n = m["publish"] { broadcast.publish = readPermission(n, "publish") }
        if let n = m["subscribe"] { broadcast.subscribe = readPermission(n, "subscribe") }
        if case .nobody = broadcast.publish, case .nobody = broadcast.subscribe, let n = m["subscribe"] {
            fail(n, "broadcast service \(path): nobody may publish or subscribe")
        }
        return broadcast
    }

    /// `anyone`, `nobody`, or `{subjects: [...], claims: {claim: [values]}}`.
    mutating func readPermission(_ node: Node, _ what: String) -> GatewayConfiguration.Broadcast.Permission {
        if node.scalar != nil {
            switch string(node, what) {
            case "anyone": return .anyone
            case "nobody": return .nobody
            default:
                fail(node, "\(what) must be anyone, nobody, or {subjects, claims}")
                return .anyone
            }
        }
        guard let r = mapping(node, what, allowed: ConfigurationSchema.permission.keys) else { return .anyone }
        let (subjects, claims) = readRequirement(r, what)
        return .requires(AccessRequirement(subjects: subjects.map(Set.init), claims: claims))
    }

    /// The `subjects` and `claims` of a requirement mapping (`auth.require`, a broadcast permission).
    mutating func readRequirement(_ r: [String: Node], _ what: String) -> (subjects: [String]?, claims: [String: [String]]) {
        var subjects: [String]?
        var claims: [String: [String]] = [:]
        if let v = r["subjects"] { subjects = stringList(v, "\(what).subjects") }
        if let v = r["claims"], case .mapping(let pairs) = v {
            for (key, value) in pairs {
                guard let name = key.scalar?.string else { fail(key, "\(what).claims: keys must be claim names"); continue }
                claims[name] = stringList(value, "\(what).claims.\(name)") ?? []
            }
        } else if let v = r["claims"] {
            fail(v, "\(what).claims must be a mapping (claim: [values])")
        }
        return (subjects, claims)
    }

    /// `auth: {jwt: {…}, api_key: {file}, credentials: {…}, require: {subjects, claims}}`.
    mutating func readAuth(_ node: Node, path: String) -> GatewayConfiguration.Auth? {
        guard let m = mapping(node, "auth", allowed: ConfigurationSchema.auth.keys) else { return nil }
        var auth = GatewayConfiguration.Auth()
        if let n = m["jwt"] { auth.jwt = readJWT(n) }
        if let n = m["api_key"], let key = mapping(n, "auth.api_key", allowed: ConfigurationSchema.apiKey.keys) {
            if let f = key["file"] { auth.apiKeyFile = string(f, "auth.api_key.file") } else { fail(n, "auth.api_key needs file") }
        }
        if let n = m["mtls"] {
            // `mtls: true`, or `mtls: {}` (room for per-service options).
            if n.scalar != nil { auth.mtls = bool(n, "auth.mtls") ?? false } else if mapping(n, "auth.mtls", allowed: ConfigurationSchema.mtls.keys) != nil { auth.mtls = true }
        }
        if auth.jwt == nil, auth.apiKeyFile == nil, !auth.mtls, m["jwt"] == nil, m["api_key"] == nil, m["mtls"] == nil {
            fail(node, "auth on \(path) names no method (jwt, api_key, mtls)")
        }
        if let n = m["credentials"],
           let c = mapping(n, "auth.credentials", allowed: ConfigurationSchema.credentials.keys) {
            if let v = c["header"], let on = bool(v, "auth.credentials.header") { auth.sources.authorizationHeader = on }
            if let v = c["subprotocol"], let on = bool(v, "auth.credentials.subprotocol") { auth.sources.subprotocol = on }
            if let v = c["query"] { auth.sources.queryParameter = nameOrOff(v, "auth.credentials.query") }
            if let v = c["cookie"] { auth.sources.cookie = nameOrOff(v, "auth.credentials.cookie") }
        }
        if let n = m["require"], let r = mapping(n, "auth.require", allowed: ConfigurationSchema.require.keys) {
            (auth.subjects, auth.requiredClaims) = readRequirement(r, "auth.require")
        }
        return auth
    }

    mutating func readJWT(_ node: Node) -> GatewayConfiguration.Auth.JWT? {
        guard let m = mapping(node, "auth.jwt", allowed: ConfigurationSchema.jwt.keys) else { return nil }
        var jwt = GatewayConfiguration.Auth.JWT()
        if let n = m["secret_file"] { jwt.secretFile = string(n, "auth.jwt.secret_file") }
        if let n = m["algorithms"], let list = stringList(n, "auth.jwt.algorithms") {
            let hmac = ["HS256", "HS384", "HS512"]
            if let bad = list.first(where: { !hmac.contains($0) }) {
                fail(n, "auth.jwt.algorithms lists the HMAC algorithms used with secret_file (\(hmac.joined(separator: ", "))), not \(bad)")
            } else {
                jwt.algorithms = list
            }
        }
        if let n = m["public_keys"] { jwt.publicKeyFiles = stringList(n, "auth.jwt.public_keys") ?? [] }
        if let n = m["jwks_file"] { jwt.jwksFile = string(n, "auth.jwt.jwks_file") }
        if let n = m["issuer"] { jwt.issuers = stringList(n, "auth.jwt.issuer") }
        if let n = m["audience"] { jwt.audiences = stringList(n, "auth.jwt.audience") }
        if let n = m["leeway"], let v = seconds(n, "auth.jwt.leeway") { jwt.leeway = v }
        if let n = m["require_exp"], let v = bool(n, "auth.jwt.require_exp") { jwt.requireExpiry = v }
        if jwt.secretFile == nil, jwt.publicKeyFiles.isEmpty, jwt.jwksFile == nil {
            fail(node, "auth.jwt needs secret_file, public_keys or jwks_file")
        }
        return jwt
    }

    /// A string, or a list of strings (`issuer: a` and `issuer: [a, b]` alike).
    mutating func stringList(_ node: Node, _ what: String) -> [String]? {
        if node.scalar != nil { return string(node, what).map { [$0] } }
        guard let items = sequence(node, what) else { return nil }
        return items.compactMap { string($0, "an entry of \(what)") }
    }

    /// A name, or `false`/`off` for none.
    mutating func nameOrOff(_ node: Node, _ what: String) -> String? {
        if let text = node.scalar?.string.lowercased(), ["false", "off", "no"].contains(text) { return nil }
        return string(node, what)
    }

    mutating func readCompression(_ node: Node) -> PerMessageDeflate.ServerSettings? {
        if node.scalar != nil { return bool(node, "compression") == false ? nil : .default } // compression: off
        guard let m = mapping(node, "compression", allowed: ConfigurationSchema.compression.keys) else { return .default }
        if let n = m["enabled"], bool(n, "compression.enabled") == false { return nil }
        var s = PerMessageDeflate.ServerSettings.default
        if let n = m["server_max_window_bits"], let v = integer(n, "server_max_window_bits", in: 8...15) { s.serverMaxWindowBits = v }
        if let n = m["client_max_window_bits"], let v = integer(n, "client_max_window_bits", in: 8...15) { s.clientMaxWindowBits = v }
        if let n = m["server_no_context_takeover"], let v = bool(n, "server_no_context_takeover") { s.serverNoContextTakeover = v }
        if let n = m["client_no_context_takeover"], let v = bool(n, "client_no_context_takeover") { s.clientNoContextTakeover = v }
        if let n = m["level"], let v = integer(n, "compression level", in: 1...9) { s.tuning.compressionLevel = v }
        if let n = m["memory_level"], let v = integer(n, "memory_level", in: 1...9) { s.tuning.memoryLevel = v }
        if let n = m["min_size"], let v = integer(n, "min_size", in: 0...Int.max) { s.tuning.minimumMessageSize = v }
        if let n = m["rest_after"], let v = seconds(n, "compression.rest_after") {
            s.tuning.restAfter = v == 0 ? nil : .milliseconds(Int64((v * 1000).rounded()))
        }
        if let n = m["rest_history"], let v = integer(n, "compression.rest_history", in: 0...32768) { s.tuning.restHistoryBytes = v }
        return s
    }

    mutating func readLimits(_ node: Node, into l: inout GatewayConfiguration.Limits) {
        guard let m = mapping(node, "limits", allowed: ConfigurationSchema.limits.keys) else { return }
        if let n = m["max_message_size"], let v = integer(n, "max_message_size", in: 1...(1 << 40)) { l.maxMessageSize = v }
        if let n = m["max_connections"], let v = integer(n, "max_connections", in: 1...10_000_000) { l.maxConnections = v }
        if let n = m["max_connections_per_address"], let v = integer(n, "max_connections_per_address", in: 0...10_000_000) {
            l.maxConnectionsPerAddress = v == 0 ? nil : v
        }
        if let n = m["handshake_timeout"], let v = seconds(n, "handshake_timeout") { l.handshakeTimeout = v }
        if let n = m["max_handshake_size"], let v = integer(n, "max_handshake_size", in: 256...(1 << 20)) { l.maxHandshakeSize = v }
        if let n = m["ping_interval"], let v = seconds(n, "ping_interval") { l.pingInterval = v == 0 ? nil : v }
        if let n = m["pong_timeout"], let v = seconds(n, "pong_timeout") { l.pongTimeout = v }
        if let n = m["idle_timeout"], let v = seconds(n, "idle_timeout") { l.idleTimeout = v == 0 ? nil : v }
        if let n = m["max_send_queue"], let v = integer(n, "max_send_queue", in: 1024...(1 << 40)) { l.maxSendQueue = v }
        if let n = m["shutdown_grace"], let v = seconds(n, "shutdown_grace") { l.shutdownGrace = v }
        if let n = m["handshakes_per_second_per_address"], let v = positive(n, "handshakes_per_second_per_address") {
            l.handshakesPerSecondPerAddress = v
        }
        if let n = m["handshake_burst"], let v = positive(n, "handshake_burst") { l.handshakeBurst = v }
        if let n = m["read_budget"], let v = integer(n, "read_budget", in: 1024...(1 << 30)) { l.readBudget = v }
        if let n = m["compressed_read_budget"], let v = integer(n, "compressed_read_budget", in: 1024...(1 << 30)) {
            l.compressedReadBudget = v
        }
    }
}

extension String {
    /// `16_777_216` → `16777216` (YAML 1.1 allows underscores in integers).
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}
