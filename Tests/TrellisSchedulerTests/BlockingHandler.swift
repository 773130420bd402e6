import Synchronization
import TrellisCore
import TrellisScheduler

/// A handler (`block`) that holds its node until cancelled, counting starts and cancels:
/// for tests of how a cancel reaches a running handler.
final class BlockingHandler: NodeHandler {
    let name = "block"
    let started = Atomic<Int>(0)
    let cancelled = Atomic<Int>(0)
    func run(_ context: NodeContext) async throws -> HandlerOutput {
        started.add(1, ordering: .relaxed)
        do {
            try await Task.sleep(for: .seconds(600))
        } catch {
            cancelled.add(1, ordering: .relaxed)
            throw error
        }
        return HandlerOutput(.null)
    }
}
