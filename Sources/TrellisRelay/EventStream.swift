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
            } catch let error as RelayError where error.code == "unavailable" {
                try await Task.sleep(for: backoff)  // every pooled connection busy: wait, keep the stream
                backoff = min(backoff * 2, .seconds(2))
            }
        }
    }

    /// Calls `write` with every event after `after` (and with heartbeats), in batches —
    /// a batch is what one log read or one hub push brought, so a transport can write it
    /// with one flush — until the run's final event has been written, the client goes
    /// away (`write` throws), the task is cancelled or `stop` is triggered. Returns the
    /// last seq written.
    @discardableResult
    func deliver(after: Int64, stop: StreamStop? = nil, write: ([Step]) async throws -> Void) async throws -> Int64 {
        let queue = SubscriberQueue(limit: queueLimit)
        stop?.onStop { queue.close() }
        await hub.register(queue, run: run, after: after)
        metrics.clients.increment()
        defer {
            metrics.clients.decrement()
            queue.close()
            Task { await hub.unregister(queue, run: run) }
        }
        var cursor = after
        var finished = false

        /// Writes the events that continue the stream from the cursor (in seq order, up to
        /// the final event) as one batch.
        func emit(_ events: [RelayEvent], replayed: Bool) async throws {
            var steps: [Step] = []
            var last = cursor
            for event in events where event.seq == last + 1 && !finished {
                steps.append(.event(event, replayed: replayed))
                last = event.seq
                finished = event.isFinal
            }
            guard !steps.isEmpty else { return }
            try await write(steps)
            cursor = last
            metrics.events.increment(by: Int64(steps.count))
            if !replayed {
                let now = Date()
                for case .event(let event, _) in steps {
                    metrics.lag.record(Duration.milliseconds(max(0, Int64(now.timeIntervalSince(event.timestamp) * 1000))))
                }
            }
        }
        /// Reads the log after the cursor (up to `before`, exclusive, when given).
        func catchUp(before: Int64? = nil) async throws {
            while !finished {
                let events = try await read(after: cursor)
                try await emit(events.filter { event in before.map { event.seq < $0 } ?? true }, replayed: true)
                if events.count < 500 || (before.map { cursor + 1 >= $0 } ?? false) { return }
            }
        }

        try await catchUp()
        try await withTaskCancellationHandler {
            try await live()
        } onCancel: {
            queue.close()
        }
        return cursor

        func live() async throws {
            while !finished && !Task.isCancelled {
                switch await queue.next() {
                case .closed:
                    return
                case .idle:
                    try await write([.heartbeat])
                case .resync:
                    metrics.resyncs.increment()
                    try await catchUp()
                case .events(let events):
                    // Consecutive runs of the pushed events go out as they are; a gap before
                    // one is filled from the log first; anything at or below the cursor is a
                    // duplicate and dropped.
                    var batch: [RelayEvent] = []
                    for event in events.sorted(by: { $0.seq < $1.seq }) {
                        let expected = cursor + Int64(batch.count) + 1
                        if event.seq < expected { continue }
                        if event.seq > expected {
                            try await emit(batch, replayed: false)
                            batch = []
                            try await catchUp(before: event.seq)
                            if finished || event.seq != cursor + 1 { continue }
                        }
                        batch.append(event)
                    }
                    try await emit(batch, replayed: false)
                }
            }
        }
    }
}
