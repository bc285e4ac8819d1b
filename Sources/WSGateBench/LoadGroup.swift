import NIOCore
import NIOPosix

/// Runs a load generator's `body` on event loops of its own (`threads` of them, apart from any the process has),
/// shut down afterwards whether `body` returns or throws.
func withLoadGroup<Result>(threads: Int, _ body: ([any EventLoop]) async throws -> Result) async throws -> Result {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: max(1, threads))
    do {
        let result = try await body(Array(group.makeIterator()))
        try? await group.shutdownGracefully()
        return result
    } catch {
        try? await group.shutdownGracefully()
        throw error
    }
}
