import MSRPEngine
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL
import WebSocketTransport

/// The relay's outbound connections to next hops it does not hold (another relay, an endpoint): one TCP or TLS
/// connection per `scheme:host:port`, shared by every forward to it. A forward that comes while that connection
/// is still being opened waits for it rather than opening a second one, so concurrent forwards to a new next hop
/// cost one connection; a failed attempt is not kept, so the next forward tries again.
final class MSRPNextHopPool: Sendable {
    private enum Entry {
        case connecting(EventLoopFuture<MSRPLeg>)
        case connected(MSRPLeg)
    }

    private let group: any EventLoopGroup
    private let clientTLS: ClientTLS
    private let connectTimeout: TimeAmount
    private let entries = NIOLockedValueBox<[String: Entry]>([:])

    init(group: any EventLoopGroup, clientTLS: ClientTLS, connectTimeout: TimeAmount = .seconds(10)) {
        self.group = group
        self.clientTLS = clientTLS
        self.connectTimeout = connectTimeout
    }

    /// The pool key: next hops are told apart by scheme, host (without regard to case) and port (2855 when the
    /// URI has none).
    static func key(_ uri: MSRPURI) -> String {
        "\(uri.secure ? "msrps" : "msrp"):\(uri.host.lowercased()):\(uri.port ?? 2855)"
    }

    /// The connection to `uri`'s next hop, opened when there is none; `handler` makes the connection's leg
    /// handler (which registers it with the relay).
    func leg(to uri: MSRPURI, handler: @escaping @Sendable () -> MSRPStreamLeg) -> EventLoopFuture<MSRPLeg> {
        let key = Self.key(uri)
        let eventLoop = group.next()
        let (existing, promise) = entries.withLockedValue { entries -> (EventLoopFuture<MSRPLeg>?, EventLoopPromise<MSRPLeg>?) in
            switch entries[key] {
            case .connected(let leg): return (eventLoop.makeSucceededFuture(leg), nil)
            case .connecting(let pending): return (pending, nil)
            case nil:
                let promise = eventLoop.makePromise(of: MSRPLeg.self)
                entries[key] = .connecting(promise.futureResult)
                return (nil, promise)
            }
        }
        if let existing { return existing }
        guard let promise else { preconditionFailure("either an existing connection or a new attempt") }
        connect(to: uri, on: eventLoop, handler: handler).whenComplete { result in
            self.entries.withLockedValue { entries in
                guard case .connecting(let pending) = entries[key], pending === promise.futureResult else { return }
                switch result {
                case .success(let leg): entries[key] = .connected(leg)
                case .failure: entries[key] = nil
                }
            }
            promise.completeWith(result)
        }
        return promise.futureResult
    }

    /// The connection to `uri`'s next hop when it is open now (a source can then stream to it without waiting).
    func connectedLeg(to uri: MSRPURI) -> MSRPLeg? {
        entries.withLockedValue { entries in
            if case .connected(let leg) = entries[Self.key(uri)], !leg.isClosed { return leg }
            return nil
        }
    }

    /// A connection closed: forwards to its next hop open a new one.
    func forget(_ id: MSRPRelay.ConnectionID) {
        entries.withLockedValue { entries in
            for (key, entry) in entries {
                if case .connected(let leg) = entry, leg.id == id { entries[key] = nil }
            }
        }
    }

    /// Next hops connected now (attempts under way not counted).
    var connectionCount: Int {
        entries.withLockedValue { entries in
            entries.values.filter { if case .connected = $0 { return true } else { return false } }.count
        }
    }

    private func connect(to uri: MSRPURI, on eventLoop: any EventLoop,
                         handler: @escaping @Sendable () -> MSRPStreamLeg) -> EventLoopFuture<MSRPLeg> {
        let tlsContext: NIOSSLContext?
        do {
            tlsContext = uri.secure ? try clientTLS.makeContext() : nil
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
        let clientTLS = clientTLS
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(try clientTLS.makeHandler(context: tlsContext, host: uri.host))
                    }
                    try channel.pipeline.syncOperations.addHandler(handler())
                }
            }
            .connect(host: uri.host, port: uri.port ?? 2855)
            .flatMapThrowing { channel -> MSRPLeg in
                guard channel.isActive, let leg = try channel.pipeline.syncOperations.handler(type: MSRPStreamLeg.self).leg else {
                    throw ClosedAtOnce(nextHop: Self.key(uri))
                }
                return leg
            }
    }

    /// A next hop that accepted the connection and closed it before the relay could use it.
    struct ClosedAtOnce: Error, CustomStringConvertible {
        var nextHop: String
        var description: String { "the connection to \(nextHop) closed at once" }
    }
}
