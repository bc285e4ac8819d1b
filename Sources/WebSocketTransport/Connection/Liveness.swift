import NIOCore
import WebSocketEngine

/// When to ping a quiet peer, when to give up on one that does not answer, and when an unused connection
/// has been idle too long — a state machine ticked by one timer per connection, returning what to do.
///
/// Reads only set a flag (no clock per read); the timer fires every `interval`, so a silent peer is pinged
/// after one to two intervals of silence and dropped `pongTimeout` later.
struct Liveness {
    struct Configuration: Sendable, Hashable {
        /// Ping the peer after this long without a frame from it; nil never pings.
        var pingInterval: TimeAmount?
        /// Close (1011) when nothing, not even the pong, arrived this long after a ping.
        var pongTimeout: TimeAmount
        /// Close (1001) after this long without a data message in either direction; nil never.
        var idleTimeout: TimeAmount?
        /// Rest the connection's compression after this long without a data message; nil never (no compression,
        /// or resting off).
        var compressionRestAfter: TimeAmount?

        /// How often the timer fires: the finest of the configured periods (an idle timeout is checked four
        /// times per period), so each deadline is met within one tick.
        var tickInterval: TimeAmount? {
            let periods = [pingInterval, idleTimeout.map { .nanoseconds($0.nanoseconds / 4) }, pingInterval.map { _ in pongTimeout },
                           compressionRestAfter]
                .compactMap { $0 }
            guard let finest = periods.min() else { return nil }
            return max(finest, .milliseconds(10))
        }
    }

    enum Action: Equatable {
        case nothing
        case ping
        case close(CloseCode, reason: String)
    }

    let configuration: Configuration
    /// A frame arrived since the last tick.
    private var heardFromPeer = false
    /// A data message went either way since the last tick.
    private var carriedData = false
    private var lastHeard: NIODeadline
    private var lastData: NIODeadline
    private var pingSentAt: NIODeadline?
    /// The compression was rested (or had nothing to rest) since the last data message.
    private var compressionRested = false

    init(configuration: Configuration, now: NIODeadline) {
        self.configuration = configuration
        lastHeard = now
        lastData = now
    }

    mutating func frameReceived() { heardFromPeer = true }
    mutating func dataMessage() { carriedData = true }

    mutating func tick(now: NIODeadline) -> Action {
        if heardFromPeer {
            heardFromPeer = false
            lastHeard = now
            pingSentAt = nil
        }
        if carriedData {
            carriedData = false
            lastData = now
            compressionRested = false
        }
        if let idle = configuration.idleTimeout, now - lastData >= idle {
            return .close(.goingAway, reason: "idle timeout")
        }
        if let sent = pingSentAt {
            return now - sent >= configuration.pongTimeout ? .close(.internalServerError, reason: "keepalive ping timeout") : .nothing
        }
        if let interval = configuration.pingInterval, now - lastHeard >= interval {
            pingSentAt = now
            return .ping
        }
        return .nothing
    }

    /// Whether the compression should rest now: quiet for `compressionRestAfter` since the last data message seen by
    /// `tick` (call it after `tick`), once per quiet spell — a connection is rested between one and two tick intervals
    /// after its last message.
    mutating func compressionRestDue(now: NIODeadline) -> Bool {
        guard let after = configuration.compressionRestAfter, !compressionRested, now - lastData >= after else { return false }
        compressionRested = true
        return true
    }
}
