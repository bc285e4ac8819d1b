import NIOConcurrencyHelpers
import NIOCore
import WebSocketAPI

/// Every connection a listener holds, from accept to close: enforces the connection limits (total and per
/// client address) and lets a graceful shutdown reach each WebSocket with a close 1001.
///
/// Shared by the listener's event loops; a lock guards the small amount of state touched once per connect
/// and disconnect, never per message.
final class ConnectionTracker: Sendable {
    struct Limits: Sendable, Hashable {
        var maxConnections: Int
        var maxConnectionsPerAddress: Int
    }

    enum Admission: Equatable {
        case admitted
        case overTotal(Int)
        case overPerAddress(Int)
    }

    private struct State {
        var total = 0
        var perAddress: [String: Int] = [:]
        /// Channels accepted and not closed yet, with their WebSocket once the upgrade happened.
        var channels: [ObjectIdentifier: (channel: any Channel, socket: (any WebSocketConnection)?)] = [:]
        var draining = false
        /// Completed when the last connection closes during a drain.
        var waiters: [EventLoopPromise<Void>] = []
    }

    private let limits: Limits
    private let state = NIOLockedValueBox(State())

    init(limits: Limits) {
        self.limits = limits
    }

    /// Counts a newly accepted connection, or says which limit it would break (it is then not counted).
    func admit(_ channel: any Channel) -> Admission {
        let address = Self.key(channel.remoteAddress)
        return state.withLockedValue { s in
            if s.draining { return .overTotal(s.total) }
            if s.total >= limits.maxConnections { return .overTotal(s.total) }
            let fromAddress = s.perAddress[address, default: 0]
            if fromAddress >= limits.maxConnectionsPerAddress { return .overPerAddress(fromAddress) }
            s.total += 1
            s.perAddress[address] = fromAddress + 1
            s.channels[ObjectIdentifier(channel)] = (channel, nil)
            return .admitted
        }
    }

    /// Notes the WebSocket a counted channel now carries (after a successful upgrade).
    func upgraded(_ channel: any Channel, to socket: any WebSocketConnection) {
        let draining = state.withLockedValue { s -> Bool in
            s.channels[ObjectIdentifier(channel)]?.socket = socket
            return s.draining
        }
        // Upgraded while the server was already going away: tell it at once.
        if draining { socket.close(code: .goingAway, reason: "server shutting down") }
    }

    /// Uncounts a closed channel.
    func closed(_ channel: any Channel) {
        let address = Self.key(channel.remoteAddress)
        let waiters = state.withLockedValue { s -> [EventLoopPromise<Void>] in
            guard s.channels.removeValue(forKey: ObjectIdentifier(channel)) != nil else { return [] }
            s.total -= 1
            let left = s.perAddress[address, default: 1] - 1
            s.perAddress[address] = left > 0 ? left : nil
            guard s.total == 0 else { return [] }
            defer { s.waiters.removeAll() }
            return s.waiters
        }
        for promise in waiters { promise.succeed() }
    }

    var count: Int { state.withLockedValue { $0.total } }

    /// Starts a graceful shutdown: refuses new connections, sends close 1001 to every WebSocket and drops
    /// connections still in their handshake. The future completes when every connection has closed.
    func drain(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let (entries, empty) = state.withLockedValue { s -> ([(channel: any Channel, socket: (any WebSocketConnection)?)], Bool) in
            s.draining = true
            if s.total > 0 { s.waiters.append(promise) }
            return (Array(s.channels.values), s.total == 0)
        }
        if empty {
            promise.succeed()
            return promise.futureResult
        }
        for entry in entries {
            if let socket = entry.socket {
                socket.close(code: .goingAway, reason: "server shutting down")
            } else {
                entry.channel.close(promise: nil)
            }
        }
        return promise.futureResult
    }

    /// Closes whatever is still open (the drain deadline passed).
    func closeAll() {
        for entry in state.withLockedValue({ Array($0.channels.values) }) { entry.channel.close(promise: nil) }
    }

    private static func key(_ address: SocketAddress?) -> String {
        address?.ipAddress ?? "?"
    }
}
