import Foundation
import TrellisPQ

/// Delivers one run's events to one client, in order, exactly once from its cursor:
/// first a replay from the log, then live events from the hub. Events at or below the
/// cursor are dropped (duplicates); a gap is filled from the log before going on; an
/// overflow resyncs from the log. Ends after the run's final event.
struct EventStream: Sendable {
    let run: UUID
    let hub: EventHub
    let pool: ConnectionPool
    let metrics: RelayMetrics
    let heartbeat: Duration
    var queueLimit = 1000

    enum Step: Sendable {
        case event(RelayEvent, replayed: Bool)
        case heartbeat
    }

    /// Reads the log, waiting out a database that is away (restart, failover): the client
    /// keeps its stream and gets everything once the database is back.
    func read(after cursor: Int64) async throws -> [RelayEvent] {
        var backoff = Duration.milliseconds(100)
        while true {
            do {
                return try await pool.withConnection { try await RelayEvent.read($0, run: run, after: cursor) }
            } catch let error as PGError where error.kind == .connection || error.kind == .connectionClosed {
                try await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    /// Calls `write` for every event after `after` (and for heartbeats) until the run's
    /// final event has been written, the client goes away (`write` throws) or the task is
    /// cancelled. Returns the last seq written.
    @discardableResult
    func deliver(after: Int64, write: (Step) async throws -> Void) async throws -> Int64 {
        let queue = SubscriberQueue(limit: queueLimit)
        await hub.register(queue, run: run, after: after)
        metrics.clients.increment()
        defer {
            metrics.clients.decrement()
            Task { await hub.unregister(queue, run: run); await queue.close() }
        }
        var cursor = after
        var finished = false

        func emit(_ event: RelayEvent, replayed: Bool) async throws {
            try await write(.event(event, replayed: replayed))
            cursor = event.seq
            metrics.events.increment()
            if !replayed { metrics.lag.record(Duration.milliseconds(max(0, Int64(Date().timeIntervalSince(event.timestamp) * 1000)))) }
            finished = finished || event.isFinal
        }
        /// Reads the log after the cursor (up to `before`, exclusive, when given).
        func catchUp(before: Int64? = nil) async throws {
            while !finished {
                let events = try await read(after: cursor)
                for event in events where before.map({ event.seq < $0 }) ?? true {
                    try await emit(event, replayed: true)
                    if finished { return }
                }
                if events.count < 500 || (before.map { cursor + 1 >= $0 } ?? false) { return }
            }
        }

        try await catchUp()
        try await withTaskCancellationHandler {
            try await live()
        } onCancel: {
            Task { await queue.close() }
        }
        return cursor

        func live() async throws {
        while !finished && !Task.isCancelled {
            switch await queue.next(wait: heartbeat) {
            case .closed:
                return
            case .idle:
                try await write(.heartbeat)
            case .resync:
                metrics.resyncs.increment()
                try await catchUp()
            case .events(let events):
                for event in events.sorted(by: { $0.seq < $1.seq }) where event.seq > cursor {
                    if event.seq > cursor + 1 { try await catchUp(before: event.seq) }
                    if event.seq == cursor + 1 { try await emit(event, replayed: false) }
                    if finished { break }
                }
            }
        }
        }
    }
}
