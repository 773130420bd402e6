import Synchronization

/// Ends a stream from outside its delivery loop — a revoked token or grant, or a pruned
/// run, found by a periodic check — and remembers why, so the transport can tell the
/// client (SSE `event: error`, WebSocket `{"type": "error"}`) instead of `end`.
final class StreamStop: Sendable {
    private let state = Mutex<(reason: RelayError?, hooks: [@Sendable () -> Void])>((nil, []))

    var reason: RelayError? { state.withLock { $0.reason } }

    /// Runs `hook` when the stream is stopped (at once if it already was).
    func onStop(_ hook: @escaping @Sendable () -> Void) {
        let now = state.withLock { state -> Bool in
            if state.reason != nil { return true }
            state.hooks.append(hook)
            return false
        }
        if now { hook() }
    }

    func stop(_ reason: RelayError) {
        let hooks = state.withLock { state -> [@Sendable () -> Void] in
            guard state.reason == nil else { return [] }
            state.reason = reason
            defer { state.hooks = [] }
            return state.hooks
        }
        hooks.forEach { $0() }
    }
}
