import NIOCore

/// One connection's share of a turn of its event loop, in bytes, expressed in the two settings NIO has for it.
///
/// In a turn NIO reads each ready connection up to `maxMessagesPerRead` times, each read at most the receive
/// allocator's maximum, and processes what it read before the next connection gets its turn; a new connection is
/// accepted, and its handshake read, only between turns. So the bytes a busy connection may read per turn, times
/// the busy connections on a loop, is how long a newcomer waits — under a flood of permessage-deflate messages
/// (16 reads of 64 KiB, ~80 ms of inflating and deflating each) that was 13 s for 100 connections on one core. A
/// budget bounds it: reads of at most `budget` bytes (a power of two, no more than the listener's buffer maximum),
/// as many as fit in it.
package struct ReadBudget: Equatable, Sendable {
    /// NIO's `maxMessagesPerRead`: reads of one connection per turn.
    package let readsPerTurn: UInt
    /// The largest single read.
    package let maximumReadSize: Int
    /// The listener's smallest and first read sizes, kept within `maximumReadSize`.
    private let minimumReadSize: Int, initialReadSize: Int

    /// The reads that fit `budget` bytes given the listener's receive buffer sizing.
    package init(budget: Int, receiveBuffer: AdaptiveRecvByteBufferAllocator) {
        let largestPowerOfTwo = 1 << (Int.bitWidth - 1 - max(1, budget).leadingZeroBitCount)
        maximumReadSize = max(receiveBuffer.minimum, min(receiveBuffer.maximum, largestPowerOfTwo), 64)
        readsPerTurn = UInt(max(1, budget / maximumReadSize))
        initialReadSize = min(receiveBuffer.initial, maximumReadSize)
        minimumReadSize = min(receiveBuffer.minimum, initialReadSize)
    }

    /// The receive allocator for reads of at most `maximumReadSize`, otherwise as the listener's.
    package var receiveAllocator: AdaptiveRecvByteBufferAllocator {
        AdaptiveRecvByteBufferAllocator(minimum: minimumReadSize, initial: initialReadSize, maximum: maximumReadSize)
    }

    /// Sets both on `channel` (from its event loop): how a connection that negotiated compression gets its
    /// smaller budget once the handshake tells.
    package func apply(to channel: any Channel) throws {
        guard let options = channel.syncOptions else { return }
        try options.setOption(.maxMessagesPerRead, value: readsPerTurn)
        try options.setOption(.recvAllocator, value: receiveAllocator)
    }
}

extension ServerConfiguration {
    /// `readBudget` in NIO's settings: what every connection starts with.
    package var readShare: ReadBudget { ReadBudget(budget: readBudget, receiveBuffer: receiveBufferSizing) }
    /// `compressedReadBudget` in NIO's settings: what a connection gets once it negotiated permessage-deflate.
    package var compressedReadShare: ReadBudget { ReadBudget(budget: compressedReadBudget, receiveBuffer: receiveBufferSizing) }
}
