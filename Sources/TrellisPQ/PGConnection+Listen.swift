import CLibPQ
import Foundation
import Synchronization

extension PGConnection {
    /// Starts listening on `channel` (quoted with libpq, so any name is safe).
    public func listen(_ channel: String) async throws {
        let quoted = try await quoteIdentifier(channel)
        try await execute(script: "LISTEN \(quoted)")
    }

    public func unlisten(_ channel: String) async throws {
        let quoted = try await quoteIdentifier(channel)
        try await execute(script: "UNLISTEN \(quoted)")
    }

    /// Sends a notification through `pg_notify`, with channel and payload bound as parameters.
    public func notify(_ channel: String, payload: String = "") async throws {
        try await query("SELECT pg_notify($1, $2)", [channel, payload])
    }

    /// Waits up to `timeout` for the next notification; `nil` when none arrived.
    ///
    /// The wait sleeps in `poll(2)` on the connection's socket (no busy loop) in slices of
    /// at most 100 ms so task cancellation is noticed promptly; cancellation throws
    /// `.cancelled`. Notifications that arrived during earlier queries are returned first.
    public func nextNotification(timeout: Duration) async throws -> PGNotification? {
        let cancelled = Atomic<Bool>(false)
        let deadline = ContinuousClock.now.advanced(by: timeout)
        let endpoint = self.endpoint
        return try await withTaskCancellationHandler {
            try await withHandle { handle in
                while true {
                    guard PQconsumeInput(handle) == 1 else {
                        throw PGConnection.connectionError(handle, endpoint: endpoint)
                    }
                    if let raw = PQnotifies(handle) {
                        defer { PQfreemem(raw) }
                        return PGNotification(
                            channel: String(cString: raw.pointee.relname),
                            payload: String(cString: raw.pointee.extra),
                            senderPID: raw.pointee.be_pid)
                    }
                    if cancelled.load(ordering: .relaxed) {
                        throw PGError(kind: .cancelled, message: "wait for notification cancelled")
                    }
                    let remaining = ContinuousClock.now.duration(to: deadline)
                    if remaining <= .zero { return nil }
                    let millis = min(100, max(1, Int32(remaining.components.seconds * 1000 + remaining.components.attoseconds / 1_000_000_000_000_000)))
                    var descriptor = pollfd(fd: PQsocket(handle), events: Int16(POLLIN), revents: 0)
                    let ready = poll(&descriptor, 1, millis)
                    if ready < 0 && errno != EINTR {
                        throw PGError(kind: .connectionClosed, message: "poll failed on connection to \(endpoint): errno \(errno)")
                    }
                }
            }
        } onCancel: {
            cancelled.store(true, ordering: .relaxed)
        }
    }
}
