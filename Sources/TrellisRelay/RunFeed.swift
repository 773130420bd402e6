import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

/// One subscriber's feed of run lifecycle events across runs (`GET /v1/events`, WebSocket
/// `subscribe_runs`): reads `trellis.run_feed` after its cursor whenever the hub's doorbell
/// rings, at most every `coalesce`, and delivers what the principal may view. It never
/// ends on its own; it stops when the client goes, when the token or the workflow's `view`
/// is withdrawn (an error), or when `stop` says so.
struct RunFeed: Sendable {
    enum Step: Sendable {
        /// An envelope with `workflow` and `cursor`; `replayed` for rows that were already
        /// in the log when the subscriber connected.
        case event(envelope: String, type: String, cursor: String)
        case heartbeat
    }

    let relay: Relay
    let principal: String
    let workflow: String?
    /// Reads at most this often, so a burst of doorbells costs one read per subscriber.
    var coalesce = Duration.milliseconds(50)

    /// The position to start from when the client gave none: "from now on".
    func head() async throws -> String {
        try await relay.streamPool.withConnection { try await APIStore(connection: $0).feedHead() }
    }

    /// Checks the cursor and the workflow filter once, so a bad request is refused before
    /// a stream opens (400 / 403 / 404).
    func check(_ cursor: String) async throws {
        _ = try await relay.pool.withConnection {
            try await APIStore(connection: $0).feed(after: cursor, workflow: workflow, limit: 1, as: principal)
        }
    }

    func deliver(from start: String, stop: StreamStop, send: ([Step]) async throws -> Void) async throws {
        var cursor = start
        // Rows already committed when the subscriber came are a replay of the log.
        var catchingUp = true
        var lastSent = ContinuousClock.now
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled && stop.reason == nil {
            let rows: [APIStore.FeedRow]
            do {
                rows = try await relay.streamPool.withConnection { [cursor] in
                    try await APIStore(connection: $0).feed(after: cursor, workflow: workflow, as: principal)
                }
                backoff = .milliseconds(100)
            } catch let error as PGError where error.kind != .server || RelayError.from(error).status == .serviceUnavailable {
                // The database is away: keep the stream and read from the same cursor later.
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
                continue
            }
            if let last = rows.last { cursor = last.cursor }
            let steps = rows.filter(\.visible).map { row in
                Step.event(envelope: EventEnvelope.text(runID: row.runID, seq: row.seq, type: row.type, timestamp: row.timestamp,
                                                        data: row.data ?? "{}", replayed: catchingUp,
                                                        feed: (row.workflow ?? "", row.cursor)),
                           type: row.type, cursor: row.cursor)
            }
            if !steps.isEmpty {
                try await send(steps)
                lastSent = .now
            }
            if rows.count == 500 { continue }
            catchingUp = false
            let rang = await relay.hub.doorbell.wait(timeout: relay.options.heartbeat)
            if !rang && ContinuousClock.now - lastSent >= relay.options.heartbeat {
                try await send([.heartbeat])
                lastSent = .now
            }
            try await Task.sleep(for: coalesce)
        }
    }
}
