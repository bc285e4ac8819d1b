/// Whether a WebSocket channel handler lets the channel read — inbound backpressure in one place.
///
/// Reading stops while the socket is not writable (a peer that does not read cannot make the gateway buffer
/// replies without bound) or while the service paused it. Once the connection is closing, reading is forced
/// on whatever those say: the peer's close, or its EOF, must be read for the connection to end.
struct ReadGate {
    private(set) var pausedByService = false
    /// The service's `InboundRateLimit` holds the client back for a while.
    private(set) var pausedByRateLimit = false
    private(set) var writable = true
    private var forced = false
    /// The channel asked to read while the gate was shut; the read is passed on when it opens.
    private var readPending = false

    init(writable: Bool = true) {
        self.writable = writable
    }

    var isOpen: Bool { forced || (!pausedByService && !pausedByRateLimit && writable) }

    /// The channel asks to read: true when the read should be passed on now, else it waits for the gate.
    mutating func readRequested() -> Bool {
        if isOpen { return true }
        readPending = true
        return false
    }

    /// The service paused or resumed reading; true when a waiting read should be passed on now.
    mutating func setPausedByService(_ paused: Bool) -> Bool {
        pausedByService = paused
        return releasePendingRead()
    }

    /// The rate limit paused or let go; true when a waiting read should be passed on now.
    mutating func setPausedByRateLimit(_ paused: Bool) -> Bool {
        pausedByRateLimit = paused
        return releasePendingRead()
    }

    /// The socket's writability changed; true when a waiting read should be passed on now.
    mutating func setWritable(_ writable: Bool) -> Bool {
        self.writable = writable
        return releasePendingRead()
    }

    /// Reads from now on whatever the service or the socket say (the connection is closing); true when a
    /// waiting read should be passed on now.
    mutating func forceOpen() -> Bool {
        forced = true
        return releasePendingRead()
    }

    private mutating func releasePendingRead() -> Bool {
        guard readPending, isOpen else { return false }
        readPending = false
        return true
    }
}
