import Foundation
import TrellisPQ

/// One LISTEN connection per relay: on a doorbell (`<run_id>:<seq>`) for a run that has
/// subscribers, reads that run's new events from the log once and pushes them to every
/// subscriber's queue. A short safety poll re-reads runs with subscribers, and after a
/// LISTEN reconnect every subscriber is told to resync from its cursor — a lost
/// notification costs latency, never events (PROTOCOL.md).
actor EventHub {
    private struct Feed {
        var queues: [ObjectIdentifier: SubscriberQueue] = [:]
        /// Cursors the subscribers started from, for the first read.
        var starts: [ObjectIdentifier: Int64] = [:]
        /// The highest seq this hub has read and pushed.
        var fetched: Int64?
    }

    private let url: String
    private let pool: ConnectionPool
    private let metrics: RelayMetrics
    private let safetyPoll: Duration
    private let heartbeat: Duration
    private var feeds: [UUID: Feed] = [:]
    private var listener: Task<Void, Never>?
    private var ticker: Task<Void, Never>?
    private(set) var connected = false
    /// Rung on every notification and safety poll, for run-feed readers (`RunFeed`).
    nonisolated let doorbell = Doorbell()

    init(url: String, pool: ConnectionPool, metrics: RelayMetrics, safetyPoll: Duration = .seconds(1), heartbeat: Duration = .seconds(15)) {
        self.url = url
        self.pool = pool
        self.metrics = metrics
        self.safetyPoll = safetyPoll
        self.heartbeat = heartbeat
    }

    func start() {
        guard listener == nil else { return }
        listener = Task { await self.listen() }
        let heartbeat = self.heartbeat
        ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: heartbeat)
                self.tick()
            }
        }
    }

    func stop() {
        listener?.cancel()
        listener = nil
        ticker?.cancel()
        ticker = nil
        for feed in feeds.values { for queue in feed.queues.values { queue.close() } }
        feeds = [:]
    }

    /// One heartbeat for every subscriber (idle ones send an SSE heartbeat comment).
    private func tick() {
        for feed in feeds.values { for queue in feed.queues.values { queue.tick() } }
    }

    func register(_ queue: SubscriberQueue, run: UUID, after cursor: Int64) {
        feeds[run, default: Feed()].queues[ObjectIdentifier(queue)] = queue
        feeds[run, default: Feed()].starts[ObjectIdentifier(queue)] = cursor
    }

    func unregister(_ queue: SubscriberQueue, run: UUID) {
        feeds[run]?.queues[ObjectIdentifier(queue)] = nil
        feeds[run]?.starts[ObjectIdentifier(queue)] = nil
        if feeds[run]?.queues.isEmpty == true { feeds[run] = nil }
    }

    var subscribedRuns: Int { feeds.count }

    private func listen() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PGConnection.connect(url, applicationName: "trellis-relay listen")
                defer { Task { await connection.close() } }
                try await connection.listen("trellis_events")
                connected = true
                backoff = .milliseconds(100)
                // Whatever happened while not listening is in the log.
                await resyncAll()
                while !Task.isCancelled {
                    if let note = try await connection.nextNotification(timeout: safetyPoll) {
                        doorbell.ring()
                        let parts = note.payload.split(separator: ":")
                        if parts.count == 2, let run = UUID(uuidString: String(parts[0])), let seq = Int64(parts[1]) {
                            if let fetched = feeds[run]?.fetched, seq <= fetched { continue }
                            if feeds[run] != nil { await fetch(run) }
                        }
                    } else {
                        doorbell.ring()
                        for run in Array(feeds.keys) { await fetch(run) }
                    }
                }
            } catch {
                connected = false
                if Task.isCancelled { return }
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }

    private func resyncAll() async {
        doorbell.ring()
        for feed in feeds.values {
            for queue in feed.queues.values { queue.resync() }
        }
        for run in Array(feeds.keys) { feeds[run]?.fetched = nil }
    }

    /// Reads the run's events after what was pushed (or after the lowest subscriber
    /// start, for a new feed) and pushes them to every subscriber.
    private func fetch(_ run: UUID) async {
        guard let feed = feeds[run], !feed.queues.isEmpty else { return }
        let from = feed.fetched ?? (feed.starts.values.min() ?? 0)
        do {
            var cursor = from
            while true {
                let events = try await pool.withConnection { [cursor] in try await RelayEvent.read($0, run: run, after: cursor) }
                guard let last = events.last else { break }
                cursor = last.seq
                let queues = feeds[run].map { Array($0.queues.values) } ?? []
                for queue in queues { queue.push(events) }
                if events.count < 500 { break }
            }
            if feeds[run] != nil { feeds[run]?.fetched = cursor }
        } catch {
            // The next doorbell or poll tries again; subscribers read gaps themselves.
        }
    }
}
