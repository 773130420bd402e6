import Foundation
import Logging
import Synchronization
import TrellisCore
import TrellisPQ
import TrellisStore

/// How a scheduler instance runs.
public struct SchedulerOptions: Sendable {
    public var name: String
    /// Handlers to serve; nil serves every registered one.
    public var handlers: [String]?
    /// Handlers in flight at most.
    public var concurrency = 100
    /// Nodes claimed per statement at most.
    public var batch = 100
    /// Fire due schedules (every instance may; each tick starts one run across all of them).
    public var fireSchedules = true
    /// A pass with at least this many results reports them on a second connection while
    /// it claims on the first (two backends at once); smaller ones report and claim in one
    /// round trip and one transaction, which also claims the dependents those results made
    /// ready (the latency path). 0 turns the second connection off.
    public var parallelReportThreshold = 16
    public var leaseSeconds = 30
    /// The fallback when no NOTIFY arrives (and the only wake-up with `pollOnly`).
    public var pollInterval: Duration = .seconds(1)
    /// No LISTEN connection: for connection poolers that break LISTEN.
    public var pollOnly = false
    /// How long a graceful stop waits for handlers in flight before releasing them.
    public var shutdownGrace: Duration = .seconds(30)
    /// The inline cap: a node output larger than this (JSON text) is stored whole as an
    /// artifact and the node's output becomes a reference to it with a preview (up to
    /// `maxStoredOutputBytes`). The database enforces its own inline cap too
    /// (trellis.max_output_bytes, default 5 MiB).
    public var maxOutputBytes = 5 << 20
    /// Outputs over the inline cap up to this size are stored as artifacts; larger ones
    /// fail the node with output_too_large. 0 stores none (every output over the inline
    /// cap fails).
    public var maxStoredOutputBytes = 256 << 20
    /// The largest artifact a handler may store through `context.artifacts`.
    public var maxArtifactBytes = 1 << 30
    /// Database connections for handlers' artifact reads and writes (apart from the loop's).
    public var artifactConnections = 4
    /// How often a running scheduler compares the database's schema with its binary's, as
    /// at start (nil: only at start and on reconnecting). A migration run while it stayed
    /// connected stops it within this interval instead of leaving it calling functions it
    /// was not built for.
    public var schemaCheckInterval: Duration? = .seconds(60)

    public init(name: String) {
        self.name = name
    }
}

/// What a scheduler did, returned when it stops.
public struct SchedulerSummary: Sendable {
    public var succeeded = 0
    public var failed = 0
    public var refused = 0
    public var released = 0
    /// Nodes whose handler asked a person for input, now waiting on an approval.
    public var waiting = 0
    /// Passes whose results went over the second connection while the main one claimed.
    public var reportedApart = 0

    mutating func add(_ other: SchedulerSummary) {
        succeeded += other.succeeded
        failed += other.failed
        refused += other.refused
        released += other.released
        waiting += other.waiting
        reportedApart += other.reportedApart
    }
}

/// One scheduler instance: claims ready nodes it has handlers for, runs them
/// concurrently, reports results in batches, heartbeats its leases and reclaims expired
/// ones. All state lives in the database; killing the process loses nothing (its nodes
/// are reclaimed after their lease). Many instances may run against one database.
public final class Scheduler: Sendable {
    public let databaseURL: String
    public let registry: HandlerRegistry
    public let options: SchedulerOptions
    /// Every line carries `scheduler` (the instance name); lines about a node carry
    /// `node_run_id`, and when known `run_id`, `node_key` and `attempt`.
    private let logger: Logger
    private let metrics: SchedulerMetrics?
    private let stopping = Atomic<Bool>(false)
    private let readyFlag = Atomic<Bool>(false)
    private let wakeup = Wakeup()
    private let inbox = Inbox()
    /// The registration id handlers present with their artifact calls (it changes when
    /// the scheduler registers again).
    private let registeredID = Atomic<Int64>(0)
    /// Handler tasks created but not yet running: the loop lets them begin before it
    /// drains the results, and waits for them as for siblings (see the top of a pass).
    private let unbegun = Atomic<Int>(0)
    /// When the latest handler began, in nanoseconds after `epoch` (SchedulerLoop.gatherWait).
    private let lastBegun = Atomic<Int64>(0)
    private let epoch = ContinuousClock.now
    private let artifactPool: ConnectionPool
    /// The lanes of this process (`SchedulerLanes`; a scheduler on its own is the one lane
    /// of its own), and this one's index among them.
    private let siblings: LaneSiblings
    private let lane: Int

    public convenience init(databaseURL: String, registry: HandlerRegistry, options: SchedulerOptions, metrics: SchedulerMetrics? = nil,
                            logger: Logger? = nil) {
        self.init(databaseURL: databaseURL, registry: registry, options: options, metrics: metrics, logger: logger,
                  siblings: LaneSiblings(), lane: 0)
    }

    init(databaseURL: String, registry: HandlerRegistry, options: SchedulerOptions, metrics: SchedulerMetrics?,
         logger: Logger?, siblings: LaneSiblings, lane: Int) {
        self.siblings = siblings
        self.lane = lane
        let wakeup = self.wakeup, inbox = self.inbox
        siblings.register(lane: lane, wake: { Task { await wakeup.signal() } }, cancel: { id in
            Task {
                await inbox.cancel(id)
                await wakeup.signal()
            }
        })
        self.databaseURL = databaseURL
        self.registry = registry
        self.options = options
        self.metrics = metrics
        var logger = logger ?? Logger(label: "trellis.scheduler", factory: { _ in SwiftLogNoOpLogHandler() })
        logger[metadataKey: "scheduler"] = .string(options.name)
        self.logger = logger
        self.artifactPool = ConnectionPool(
            url: databaseURL, capacity: options.artifactConnections, wait: .seconds(30),
            applicationName: "trellis-scheduler-artifacts \(options.name)",
            settings: ["statement_timeout": "\(max(1_000, options.leaseSeconds * 500))ms"])
    }

    /// Metadata of a line about one claimed node.
    static func node(_ claim: SchedulerStore.Claim) -> Logger.Metadata {
        ["node_run_id": "\(claim.nodeRunID)", "run_id": "\(claim.runID.uuidString.lowercased())", "node_key": "\(claim.nodeKey)",
         "attempt": "\(claim.attempt)"]
    }

    /// Ready means connected to the database and registered (what `/readyz` reports):
    /// false before start-up finishes, while the connection is lost, and after stopping.
    public var isReady: Bool { readyFlag.load(ordering: .relaxed) }

    /// Times one database call into the round-trip histogram.
    private func timed<T>(_ call: () async throws -> T) async throws -> T {
        let start = ContinuousClock.now
        defer { metrics?.roundTrip.record(ContinuousClock.now - start) }
        return try await call()
    }

    /// Asks a running `run()` to stop: no new claims, handlers in flight finish (up to
    /// the grace period), then the instance deregisters. Safe from a signal handler task.
    public func requestStop() {
        stopping.store(true, ordering: .relaxed)
        Task { await wakeup.signal() }
    }

    enum Outcome: Sendable {
        /// A result whose output was checked storable (`checkedOutput`).
        case success(HandlerOutput)
        /// A result whose output cannot be stored (NaN, U+0000, over the caps): its node
        /// fails with the problem's code; the cost is still reported.
        case unstorable(StorageProblem, cost: Decimal?)
        case failure(HandlerError)
        /// The handler asked a person (`NodeNeedsInput`): the node waits on an input approval.
        case needsInput(NodeNeedsInput)
        /// Cancelled (lease lost, run cancelled, shutdown): nothing to report.
        case cancelled
    }

    struct Finished: Sendable {
        var claim: SchedulerStore.Claim
        var outcome: Outcome
    }

    /// Results of handlers and cancel requests from the listener, for the main loop.
    actor Inbox {
        private var finished: [Finished] = []
        private var cancels: Set<Int64> = []
        private var updates: [SchedulerStore.Update] = []
        func put(_ item: Finished) { finished.append(item) }
        func cancel(_ id: Int64) { cancels.insert(id) }
        func update(_ item: SchedulerStore.Update) { updates.append(item) }
        func putBack(_ items: [SchedulerStore.Update]) { updates = items + updates }
        /// Everything at once: a handler queues its progress before its result, so one
        /// drain never holds a result without the progress said before it.
        func drain() -> (updates: [SchedulerStore.Update], finished: [Finished], cancels: Set<Int64>) {
            defer {
                updates = []
                finished = []
                cancels = []
            }
            return (updates, finished, cancels)
        }
    }

    /// The session settings of the scheduler's connections: a statement that runs longer
    /// than half a lease is cut off (the scheduler's statements take milliseconds; a hung
    /// one must not outlive the leases it is meant to renew), and unacknowledged TCP data
    /// fails the connection within the same bound.
    private var connectionSettings: (settings: [String: String], tcpUserTimeout: Int) {
        let milliseconds = max(1_000, options.leaseSeconds * 500)
        return (["statement_timeout": "\(milliseconds)ms", "idle_in_transaction_session_timeout": "\(milliseconds * 2)ms"], milliseconds)
    }

    private func connect(_ purpose: String) async throws -> PGConnection {
        let (settings, tcpUserTimeout) = connectionSettings
        return try await PGConnection.connect(databaseURL, applicationName: "trellis-scheduler\(purpose) \(options.name)",
                                              settings: settings, tcpUserTimeoutMilliseconds: tcpUserTimeout)
    }

    /// Runs until `requestStop()`. Throws only when it cannot start (unknown handler, bad
    /// options, no database at start-up); afterwards every error is logged and retried
    /// with backoff — one bad node or a database outage never ends the process.
    public func run() async throws -> SchedulerSummary {
        siblings.laneStarted(lane)
        defer { siblings.laneStopped(lane) }
        let served = options.handlers ?? registry.names
        for name in served where registry.handler(named: name) == nil {
            throw HandlerError(code: "unknown_handler", message: "no handler named \"\(name)\" is registered (known: \(registry.names.joined(separator: ", ")))", retryable: false)
        }
        guard (1...Self.maxLeaseSeconds).contains(options.leaseSeconds) else {
            throw HandlerError(code: "invalid_config", message: "lease must be 1 to \(Self.maxLeaseSeconds) seconds, got \(options.leaseSeconds)", retryable: false)
        }
        func register(_ store: SchedulerStore) async throws -> Int64 {
            try await store.registerScheduler(
                name: options.name, handlers: served, concurrency: options.concurrency,
                hostname: ProcessInfo.processInfo.hostName, pid: Int(getpid()), version: TrellisVersion.current)
        }
        // A database that is down or restarting at start-up is waited for (a fleet restarted
        // together with its database must not crash-loop); anything else is fatal.
        var connection: PGConnection
        var store: SchedulerStore
        var id: Int64
        var startBackoff = Duration.milliseconds(100)
        while true {
            do {
                connection = try await connect("")
                // Built for another schema: refuse (MigrationError), never retry.
                try await SchemaCompatibility.require(connection)
                siblings.setBackend(try await connection.backendPID(), of: lane)
                store = SchedulerStore(connection: connection)
                id = try await register(store)
                registeredID.store(id, ordering: .relaxed)
                break
            } catch let error as PGError where error.isConnectionLoss || error.sqlState == "57P04" {
                // (57P04: the database is being dropped or re-created — at start-up, a
                // deployment step to wait through.)
                if stopping.load(ordering: .relaxed) { return SchedulerSummary() }
                logger.warning("database not reachable yet, retrying in \(startBackoff): \(error)")
                await wakeup.wait(timeout: startBackoff)
                startBackoff = min(startBackoff * 2, .seconds(5))
            }
        }
        readyFlag.store(true, ordering: .relaxed)
        logger.info("scheduler \(options.name) started (id \(id); handlers \(served.joined(separator: ",")); concurrency \(options.concurrency))",
                    metadata: ["scheduler_id": "\(id)"])
        // Lanes share the first lane's listener (LaneSiblings), which runs until the last
        // lane stops: in a graceful stop the first lane is often done while others still
        // wait for their handlers, and those must still hear cancels and doorbells.
        if !options.pollOnly && lane == 0 { siblings.keepListening(Task { await listen() }) }
        let sideConnection = SideConnection { try await self.connect("-report") }
        let lease = Duration.seconds(options.leaseSeconds)
        let inFlight = InFlight(lease: lease)
        /// What this instance last added to the shared in-flight gauge.
        var gaugedInFlight = 0
        defer { metrics?.inFlight.decrement(by: Double(gaugedInFlight)) }
        let watchdog = Task { await watchLeases(inFlight, lease: lease) }
        defer {
            watchdog.cancel()
            Task { [artifactPool] in await artifactPool.close() }
        }
        var summary = SchedulerSummary()
        let clock = ContinuousClock()
        // The decisions (what to claim, when to heartbeat, reclaim, wait, back off, stop)
        // are a plain value, tested without a database; this loop carries them out.
        var loop = SchedulerLoop(settings: .init(
            concurrency: options.concurrency, batch: options.batch, lease: lease,
            pollInterval: options.pollInterval, shutdownGrace: options.shutdownGrace, fireSchedules: options.fireSchedules,
            schemaCheckInterval: options.schemaCheckInterval),
            now: clock.now)

        var lastPassFailed = false
        /// Set when the schema was found changed (a periodic check, or on reconnecting).
        var refusal: MigrationError?
        /// Migrated since this scheduler started: it was not built for what it would now
        /// call. It stops as at a refused start, without one more call — the handlers are
        /// stopped and their nodes go back to the queue when their leases lapse.
        func refuse(_ mismatch: MigrationError, _ when: String) async {
            logger.critical("the database's schema changed \(when): \(mismatch); stopping \(inFlight.count) handler(s)")
            refusal = mismatch
            siblings.refuse(mismatch, by: lane)
            inFlight.cancelAll()
            _ = await inbox.drain()
            requestStop()
        }
        while true {
            // A stop is taken at the top of every pass, before any database call: a lane whose
            // calls all fail (one chaos run's lane kept a connection it could not use) must
            // still stop within its grace.
            if stopping.load(ordering: .relaxed) && !loop.isStopping {
                loop.stopRequested(at: clock.now)
                logger.info("scheduler \(options.name) stopping: \(inFlight.count) handler(s) in flight")
            }
            if let mismatch = siblings.schemaRefusal {
                await refuse(mismatch, "(found by another lane of this process)")
                break
            }
            if lastPassFailed && loop.graceOver(now: clock.now) {
                // A pass's plan ends the loop at the grace (cancel, stop); this ends it when
                // the passes keep failing before they get to their plan.
                logger.error("scheduler \(options.name): shutdown grace over with passes failing; stopping \(inFlight.count) handler(s)")
                inFlight.cancelAll()
                break
            }
            lastPassFailed = true  // until this pass gets to its end
            do {
                // Handlers that finish together (a DAG level's siblings) are reported
                // together. The first sibling to finish wakes this loop while the others'
                // tasks are often still queued on the executor, not begun: in one of two to
                // six one-at-a-time DAG runs the loop drained that one result alone and the
                // other seven went a pass later, a whole extra round trip (4–5 ms) before
                // the level's dependent could be claimed. So the handlers this scheduler
                // started first get to begin (a queued task runs when this one yields;
                // bounded, so a starved executor cannot hold the loop), and one more yield
                // lets results already on their way into the inbox land in this drain.
                var turns = 0
                while unbegun.load(ordering: .relaxed) > 0, turns < 64 {
                    await Task.yield()
                    turns += 1
                }
                if inFlight.count > 0 { await Task.yield() }
                // Signals raised before this drain are answered by it (a doorbell rung
                // during the last pass is answered by this pass's claim).
                await wakeup.clear()
                var (updates, finished, cancels) = await inbox.drain()
                // Siblings still finishing a moment behind the first: wait for them
                // (briefly, and only for handlers that have just begun) so they are
                // reported together.
                if !finished.isEmpty {
                    let gatherStart = clock.now
                    var brought = true
                    while let slice = SchedulerLoop<ContinuousClock.Instant>.gatherWait(
                        stillRunning: inFlight.count - finished.count,
                        // A handler not yet begun (the turns above ran out) counts as just begun.
                        sinceLastBegun: unbegun.load(ordering: .relaxed) > 0 ? .zero
                            : .nanoseconds(epoch.duration(to: clock.now).inNanoseconds - lastBegun.load(ordering: .relaxed)),
                        lingered: gatherStart.duration(to: clock.now), lastSliceBrought: brought) {
                        await wakeup.wait(timeout: slice)
                        let more = await inbox.drain()
                        updates += more.updates
                        finished += more.finished
                        cancels.formUnion(more.cancels)
                        brought = !more.finished.isEmpty
                    }
                }
                for nodeRunID in cancels { inFlight.cancel(nodeRunID) }
                // Progress first: it was said before the results below.
                if !updates.isEmpty {
                    do {
                        _ = try await store.reportProgress(scheduler: id, updates)
                    } catch {
                        await inbox.putBack(updates)
                        for item in finished { await inbox.put(item) }
                        throw error
                    }
                }
                // A result from an attempt this scheduler no longer holds (its lease was
                // given up, or a newer attempt was claimed) is still sent: the database's
                // fencing decides, and refuses it.
                for item in finished { inFlight.remove(item.claim.nodeRunID, attempt: item.claim.attempt) }
                var unreported = finished

                var claimed = 0
                var asked = 0
                // Whether this pass made nodes ready with no claim after it in the same
                // transaction (results reported on the second connection or alone, leases
                // reclaimed, approvals expired, schedules fired): go again at once for them.
                var leftReady = false
                var done = false
                var deferredError: (any Error)?
                for action in loop.plan(now: clock.now, inFlight: inFlight.count) {
                    switch action {
                    case .claim(let max):
                        asked = max
                        let sentAt = clock.now
                        let claims: [SchedulerStore.Claim]
                        if unreported.isEmpty {
                            claims = try await timed { try await store.claim(scheduler: id, handlers: served, max: max, leaseSeconds: options.leaseSeconds) }
                        } else if options.parallelReportThreshold > 0, unreported.count >= options.parallelReportThreshold, let side = await sideConnection.open() {
                            // A large batch: report it on the second connection while this one
                            // claims, so two backends work at once (the pass takes the longer
                            // of the two calls, not their sum).
                            let results = unreported
                            unreported = []
                            leftReady = true
                            let claimed: Result<[SchedulerStore.Claim], any Error>
                            let reported: Result<SchedulerSummary, any Error>
                            async let reporting = reportApart(results, store: SchedulerStore(connection: side), scheduler: id)
                            do {
                                claimed = .success(try await timed { try await store.claim(scheduler: id, handlers: served, max: max, leaseSeconds: options.leaseSeconds) })
                            } catch {
                                claimed = .failure(error)
                            }
                            reported = await reporting
                            if case .success(let part) = reported { summary.add(part) }
                            if case .failure(let error) = reported, let pg = error as? PGError, pg.isConnectionLoss {
                                await sideConnection.drop()
                            }
                            claims = try claimed.get()
                            if case .failure(let error) = reported {
                                // The claims above are started first; the results are back in the inbox.
                                deferredError = error
                            }
                        } else {
                            // The busy path: this pass's results and the next claim in one round trip.
                            let results = unreported
                            unreported = []
                            claims = try await reportAndClaim(results, store: store, scheduler: id, handlers: served, max: max, summary: &summary)
                        }
                        metrics?.claimed(claims)
                        for claim in claims {
                            inFlight.add(claim.nodeRunID, attempt: claim.attempt, sentAt: sentAt, task: start(claim))
                        }
                        claimed = claims.count
                        if let deferredError { throw deferredError }
                    case .heartbeat:
                        let held = inFlight.held
                        let sentAt = clock.now
                        let lost = try await timed {
                            try await store.heartbeat(scheduler: id, holding: held.map { SchedulerStore.Held($0.nodeRunID, attempt: $0.attempt) },
                                                      leaseSeconds: options.leaseSeconds)
                        }
                        metrics?.heartbeats.increment()
                        metrics?.leasesLost.increment(by: Int64(lost.count))
                        inFlight.renewed(held.filter { !lost.contains($0.nodeRunID) }, sentAt: sentAt)
                        for nodeRunID in lost { inFlight.cancel(nodeRunID) }
                        loop.heartbeatSent(at: sentAt)
                    case .reclaim:
                        let reclaimed = try await store.reclaimExpired()
                        metrics?.reclaimed.increment(by: Int64(reclaimed))
                        if reclaimed > 0 { logger.warning("reclaimed \(reclaimed) node(s) with expired leases") }
                        let expired = try await ApprovalStore(connection: connection).expireDue()
                        if expired > 0 { logger.info("applied the expiry outcome of \(expired) approval(s)") }
                        // What they made ready rang this connection's own doorbell, which the
                        // listener ignores: go again at once.
                        if reclaimed > 0 || expired > 0 { leftReady = true }
                        // Retention, in bounded batches (each its own transaction), at most 20 per pass.
                        var pruned = 0
                        for _ in 0..<20 {
                            let removed = try await store.applyRetention(scheduler: id, max: 500)
                            pruned += removed
                            if removed < 500 { break }
                        }
                        if pruned > 0 { logger.info("removed \(pruned) finished run(s) past their retention policy") }
                        loop.reclaimed(at: clock.now)
                    case .fireSchedules:
                        let fired = try await timed { try await ScheduleStore(connection: connection).fireDue() }
                        if fired.runs > 0 { logger.info("started \(fired.runs) scheduled run(s)") }
                        metrics?.scheduledRuns.increment(by: Int64(fired.runs))
                        loop.schedulesFired(at: clock.now, nextDueIn: fired.nextDue.map { .milliseconds(Int64(($0.timeIntervalSinceNow * 1000).rounded(.up))) })
                        if fired.runs > 0 { leftReady = true }  // their nodes are ready: go again at once
                    case .checkSchema:
                        try await SchemaCompatibility.require(connection)
                        loop.schemaChecked(at: clock.now)
                    case .cancelAll:
                        inFlight.cancelAll()
                    case .stop:
                        done = true
                    }
                }
                if !unreported.isEmpty {
                    // No claim this pass (stopping): report on their own.
                    let (successes, failures) = prepare(unreported)
                    try await send(unreported, successes, failures, store: store, scheduler: id, summary: &summary)
                    leftReady = true
                }
                // By difference: the lanes of one process share the gauge (SchedulerLanes).
                metrics?.inFlight.increment(by: Double(inFlight.count - gaugedInFlight))
                gaugedInFlight = inFlight.count
                // Sibling lanes ignore this lane's doorbells (LaneSiblings): when it may have
                // left ready work and holds all it may, so cannot go again, it wakes them.
                if leftReady || (asked > 0 && claimed >= asked), inFlight.count >= options.concurrency {
                    siblings.wakeOthers(than: lane)
                }
                lastPassFailed = false
                if done { break }
                if let pause = loop.idle(now: clock.now, claimed: claimed, leftReady: leftReady) {
                    siblings.setLoad(.init(room: options.concurrency - inFlight.count, waiting: true), of: lane)
                    await wakeup.wait(timeout: pause)
                    siblings.setLoad(.init(room: options.concurrency - inFlight.count, waiting: false), of: lane)
                }
            } catch let error as PGError where error.isConnectionLoss {
                // The database went away (restart, failover, network, this backend
                // terminated): keep the handlers running, reconnect with backoff, and
                // carry on under the same scheduler id so their results are still
                // accepted while their leases hold (the watchdog stops any whose lease
                // could not be renewed in time).
                logger.error("database connection lost: \(error); reconnecting")
                readyFlag.store(false, ordering: .relaxed)
                siblings.setBackend(0, of: lane)
                await connection.close()
                guard let fresh = await reconnect() else { break }
                do {
                    try await SchemaCompatibility.require(fresh)
                    loop.schemaChecked(at: clock.now)
                } catch let mismatch as MigrationError {
                    // Migrated while this process was cut off (a release that restarted the database).
                    await refuse(mismatch, "while the connection was down")
                    connection = fresh
                    break
                } catch {
                    // Lost again: the next pass finds out and reconnects.
                }
                siblings.setBackend((try? await fresh.backendPID()) ?? 0, of: lane)
                metrics?.reconnects.increment()
                readyFlag.store(true, ordering: .relaxed)
                connection = fresh
                store = SchedulerStore(connection: fresh)
            } catch let error as PGError where error.sqlState == "TR404" && error.message.hasPrefix("unknown or stopped scheduler") {
                // Our registration is gone (stopped by an operator, or lost with a database
                // restored from backup): nothing we hold is ours any more. Stop the handlers,
                // drop their results (fencing would refuse them) and register anew.
                logger.error("scheduler registration \(id) is gone (\(error)); stopping \(inFlight.count) handler(s) and registering again")
                readyFlag.store(false, ordering: .relaxed)
                inFlight.cancelAll()
                _ = await inbox.drain()
                do {
                    id = try await register(store)
                    registeredID.store(id, ordering: .relaxed)
                    readyFlag.store(true, ordering: .relaxed)
                    logger.info("registered again as scheduler \(id)", metadata: ["scheduler_id": "\(id)"])
                } catch {
                    let pause = loop.failed()
                    logger.error("could not register again, retrying in \(pause): \(error)")
                    await wakeup.wait(timeout: pause)
                }
            } catch let mismatch as MigrationError {
                // The periodic check: migrated while this scheduler stayed connected.
                await refuse(mismatch, "since this scheduler started")
                break
            } catch let error as PGError where error.isTransient {
                // A deadlock victim or lock timeout (say, against a cancel of the same run):
                // the unreported results are back in the inbox; try again shortly.
                logger.notice("transient database error, retrying: \(error)")
                try? await Task.sleep(for: .milliseconds(Int.random(in: 10...50)))
            } catch {
                // Anything else (a statement timeout, a bug in a SQL function, a refused
                // call): log it and go on after a backoff. Unreported results stay in the
                // inbox; if they cannot be reported their leases lapse and the nodes are
                // re-queued — nothing is lost, and the process stays up for its other work.
                let pause = loop.failed()
                metrics?.errors.increment()
                logger.error("scheduler loop error, retrying in \(pause): \(error)")
                await wakeup.wait(timeout: pause)
            }
        }
        readyFlag.store(false, ordering: .relaxed)
        if let refusal {
            await connection.close()
            await sideConnection.drop()
            throw refusal
        }
        // Report what finished during the last round, then give back anything left.
        do {
            let (updates, finished, _) = await inbox.drain()
            if !updates.isEmpty { _ = try await store.reportProgress(scheduler: id, updates) }
            let (successes, failures) = prepare(finished)
            try await deliver(successes, failures, store: store, scheduler: id, summary: &summary)
            summary.released = try await store.stopScheduler(id)
        } catch {
            // Unreported work is not lost: its leases lapse and other schedulers re-queue it.
            logger.error("could not report the last results or release held nodes: \(error)")
        }
        await connection.close()
        await sideConnection.drop()
        logger.info("scheduler \(options.name) stopped: \(summary.succeeded) succeeded, \(summary.failed) failed, \(summary.released) released")
        return summary
    }

    /// The longest lease a scheduler accepts (the database's trellis.max_lease_seconds default).
    public static let maxLeaseSeconds = 600

    /// Stops handlers whose lease this scheduler could not renew in time — the database
    /// is unreachable or slow — before another scheduler can reclaim their nodes, so one
    /// node never runs twice at once. Runs apart from the main loop, which may be stuck.
    private func watchLeases(_ inFlight: InFlight, lease: Duration) async {
        let tick = min(.milliseconds(250), max(lease / 20, .milliseconds(20)))
        while !Task.isCancelled {
            try? await Task.sleep(for: tick)
            for expired in inFlight.cancelExpired(at: ContinuousClock.now) {
                logger.error("lease of node run \(expired.nodeRunID) (attempt \(expired.attempt)) could not be renewed in time; its handler was stopped",
                             metadata: ["node_run_id": "\(expired.nodeRunID)", "attempt": "\(expired.attempt)"])
            }
        }
    }

    /// Opens a new main connection, retrying with backoff (100 ms doubling to 5 s) until it
    /// works or a stop is requested (nil).
    private func reconnect() async -> PGConnection? {
        var backoff = Duration.milliseconds(100)
        while !stopping.load(ordering: .relaxed) {
            if let connection = try? await connect("") {
                logger.info("reconnected to the database")
                return connection
            }
            await wakeup.wait(timeout: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
        return nil
    }

    private func start(_ claim: SchedulerStore.Claim) -> Task<Void, Never> {
        let handler = registry.handler(named: claim.handler)
        let inbox = self.inbox
        let wakeup = self.wakeup
        let metrics = self.metrics
        let artifacts = NodeArtifacts(pool: artifactPool, maxBytes: options.maxArtifactBytes) { [self] in
            ArtifactStore.NodeAttempt(scheduler: registeredID.load(ordering: .relaxed), nodeRunID: claim.nodeRunID, attempt: claim.attempt)
        }
        unbegun.add(1, ordering: .relaxed)
        return Task { [self] in
            unbegun.subtract(1, ordering: .relaxed)
            lastBegun.store(epoch.duration(to: .now).inNanoseconds, ordering: .relaxed)
            let outcome: Outcome
            if let handler {
                var context = NodeContext(
                    nodeRunID: claim.nodeRunID, runID: claim.runID, nodeKey: claim.nodeKey, attempt: claim.attempt,
                    input: claim.input.jsonValue ?? .null,
                    config: claim.config.jsonValue ?? .object([:]),
                    idempotencyKey: "\(claim.runID.uuidString.lowercased()):\(claim.nodeKey):\(claim.itemIndex.map(String.init) ?? "-")",
                    itemIndex: claim.itemIndex,
                    timeoutMilliseconds: claim.timeoutMilliseconds,
                    reporter: ProgressReporter { kind, percent, text, logKind in
                        let update = kind == "progress"
                            ? SchedulerStore.Update.progress(id: claim.nodeRunID, attempt: claim.attempt, percent: percent, message: text)
                            : SchedulerStore.Update.log(id: claim.nodeRunID, attempt: claim.attempt, kind: logKind ?? "log", body: text)
                        await inbox.update(update)
                    },
                    artifacts: artifacts,
                    resume: claim.resume.flatMap(\.jsonValue))
                let started = ContinuousClock.now
                if let problem = await Self.expandStoredOutputs(in: &context, cap: options.maxStoredOutputBytes) {
                    outcome = problem
                } else {
                    outcome = await Self.checkedOutput(
                        await Self.execute(handler, context, timeoutMilliseconds: claim.timeoutMilliseconds),
                        of: claim, in: artifacts, inlineCap: options.maxOutputBytes, storedCap: options.maxStoredOutputBytes)
                }
                metrics?.handler(claim.handler, ran: ContinuousClock.now - started)
                if case .cancelled = outcome { metrics?.finished("cancelled") }
            } else {
                outcome = .failure(HandlerError(code: "unknown_handler", message: "no handler named \(claim.handler)", retryable: false))
            }
            await inbox.put(Finished(claim: claim, outcome: outcome))
            await wakeup.signal()
        }
    }

    /// Checks a successful output once, in the handler's task (off the main loop): NaN,
    /// ±Infinity and U+0000 make it `unstorable` (invalid_output). One over the inline cap
    /// is stored whole as a JSON artifact of its node and replaced by a reference with a
    /// preview of its text, which is what the node's output, its events and downstream
    /// bindings carry; past `storedCap` (or with storing off) the node fails with
    /// output_too_large.
    static func checkedOutput(_ outcome: Outcome, of claim: SchedulerStore.Claim, in artifacts: NodeArtifacts,
                              inlineCap: Int, storedCap: Int) async -> Outcome {
        guard case .success(let result) = outcome, let problem = result.output.storageProblem(maxBytes: inlineCap) else { return outcome }
        guard case .tooLarge = problem, storedCap > inlineCap else { return .unstorable(problem, cost: result.cost) }
        let output = result.output
        let text: Data
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]  // the same output, the same bytes, stored once
            text = try encoder.encode(output)
        } catch {
            return .failure(HandlerError(code: "invalid_output", message: "\(claim.handler): output cannot be stored: \(error)", retryable: false))
        }
        guard text.count <= storedCap else {
            return .failure(HandlerError(
                code: "output_too_large",
                message: "\(claim.handler): output is \(text.count) bytes, more than the \(storedCap) bytes a scheduler stores as an artifact",
                retryable: false))
        }
        let name = "\(claim.nodeKey)\(claim.itemIndex.map { "[\($0)]" } ?? "").output.json"
        do {
            let reference = try await artifacts.put(text, name: name, mediaType: "application/json")
            guard case .object(var envelope) = reference.json else { return outcome }
            envelope["truncated"] = .bool(true)
            envelope["preview"] = .string(preview(of: text, bytes: 1_024))
            var stored = result
            stored.output = .object(envelope)
            return .success(stored)
        } catch let error as HandlerError {
            return .failure(HandlerError(code: error.code, message: "storing the \(text.count)-byte output as an artifact: \(error.message)",
                                         retryable: error.retryable))
        } catch {
            return .cancelled
        }
    }

    /// Handlers see whole values: an upstream output that was stored as an artifact and
    /// bound whole into this node's input is read back before the handler runs. A failure
    /// to read it fails the attempt (retryable when the database was unreachable).
    static func expandStoredOutputs(in context: inout NodeContext, cap: Int) async -> Outcome? {
        guard context.input.artifactReferences.contains(where: \.isStoredOutput) else { return nil }
        do {
            context.input = try await context.artifacts.expandingStoredOutputs(context.input, maxBytes: max(cap, 1))
            return nil
        } catch let error as HandlerError {
            return .failure(HandlerError(code: error.code, message: "reading a stored output bound into the input: \(error.message)",
                                         retryable: error.retryable))
        } catch {
            return .cancelled
        }
    }

    /// The first `bytes` of UTF-8 `text`, cut at a character boundary.
    static func preview(of text: Data, bytes: Int) -> String {
        guard text.count > bytes else { return String(decoding: text, as: UTF8.self) }
        var end = text.startIndex + bytes
        while end > text.startIndex, text[end] & 0xC0 == 0x80 { end -= 1 }
        return String(decoding: text[text.startIndex..<end], as: UTF8.self)
    }

    /// Runs a handler, cancelling it at the node's timeout (a retryable failure).
    static func execute(_ handler: any NodeHandler, _ context: NodeContext, timeoutMilliseconds: Int?) async -> Outcome {
        do {
            let result = try await withThrowingTaskGroup(of: HandlerOutput?.self) { group in
                group.addTask { try await handler.run(context) }
                if let timeoutMilliseconds {
                    group.addTask {
                        // Publishing caps timeouts at 30 days; the clamp keeps an older
                        // version's value from overflowing the sleep.
                        try await Task.sleep(for: .milliseconds(min(timeoutMilliseconds, 2_592_000_000)))
                        return nil
                    }
                }
                let first = try await group.next()!
                group.cancelAll()
                return first
            }
            guard let result else {
                return .failure(HandlerError(code: "timeout", message: "handler \(handler.name) exceeded the node's timeout of \(timeoutMilliseconds ?? 0) ms"))
            }
            return .success(result)
        } catch let error as HandlerError {
            return .failure(error)
        } catch let request as NodeNeedsInput {
            return .needsInput(request)
        } catch is CancellationError {
            return .cancelled
        } catch {
            if Task.isCancelled { return .cancelled }
            return .failure(HandlerError(code: "handler_error", message: String(describing: error)))
        }
    }

    /// Delivers the results prepared from `finished`; when that fails (lost connection,
    /// transient error), puts `finished` back in the inbox for the next pass and rethrows.
    private func send(_ finished: [Finished], _ successes: [SchedulerStore.Success], _ failures: [SchedulerStore.Failure],
                      store: SchedulerStore, scheduler: Int64, summary: inout SchedulerSummary) async throws {
        do {
            try await deliver(successes, failures, store: store, scheduler: scheduler, summary: &summary)
        } catch {
            for item in finished { await inbox.put(item) }
            throw error
        }
    }

    /// Reports `finished` on its own (the second connection), for a pass that claims on the
    /// main one at the same time. Never throws: a failure comes back as a value, with the
    /// results back in the inbox.
    private func reportApart(_ finished: [Finished], store: SchedulerStore, scheduler: Int64) async -> Result<SchedulerSummary, any Error> {
        var part = SchedulerSummary()
        let (successes, failures) = prepare(finished)
        do {
            try await timed { try await send(finished, successes, failures, store: store, scheduler: scheduler, summary: &part) }
            part.reportedApart = 1
            return .success(part)
        } catch {
            return .failure(error)
        }
    }

    /// Reports `finished` and claims up to `max` nodes in one round trip and one
    /// transaction. When the database refuses the combined call for its content (an
    /// output over its cap, say), nothing of it was kept: the results go the careful way
    /// (`deliver`, which isolates the offender) and the claim is sent apart. Results that
    /// could not be sent are back in the inbox when this throws.
    private func reportAndClaim(_ finished: [Finished], store: SchedulerStore, scheduler: Int64, handlers: [String], max: Int,
                                summary: inout SchedulerSummary) async throws -> [SchedulerStore.Claim] {
        let (successes, failures) = prepare(finished)
        do {
            let exchange = try await timed {
                try await store.reportAndClaim(scheduler: scheduler, successes: successes, failures: failures,
                                               handlers: handlers, max: max, leaseSeconds: options.leaseSeconds)
            }
            tally(exchange.completed, exchange.failed, summary: &summary)
            return exchange.claims
        } catch let error as PGError where error.kind == .server && !error.isTransient {
            try await send(finished, successes, failures, store: store, scheduler: scheduler, summary: &summary)
        } catch {
            for item in finished { await inbox.put(item) }
            throw error
        }
        return try await timed { try await store.claim(scheduler: scheduler, handlers: handlers, max: max, leaseSeconds: options.leaseSeconds) }
    }

    /// Sends prepared results. When the database refuses a batch for a reason of its
    /// content, the batch is sent again one result at a time, so only the offending node
    /// fails. Connection and transient errors propagate: the caller keeps the results and
    /// retries.
    private func deliver(_ successes: [SchedulerStore.Success], _ failures: [SchedulerStore.Failure], store: SchedulerStore,
                         scheduler: Int64, summary: inout SchedulerSummary) async throws {
        var failures = failures
        if !successes.isEmpty {
            let reports = try await Self.isolating(successes) { try await store.complete(scheduler: scheduler, $0) } refused: { success, error in
                // The database refused this result alone: fail the node instead.
                let code = error.sqlState == "54000" ? "output_too_large" : "invalid_output"
                self.logger.warning("node run \(success.id): result refused by the database (\(error)); failing it with \(code)",
                                    metadata: ["node_run_id": "\(success.id)", "attempt": "\(success.attempt)"])
                failures.append(.init(id: success.id, attempt: success.attempt,
                                      error: .init(code: code, message: Self.capped(error.message)), retryable: false, cost: success.cost))
            }
            tally(reports, [], summary: &summary)
        }
        if !failures.isEmpty {
            let reports = try await Self.isolating(failures) { try await store.fail(scheduler: scheduler, $0) } refused: { failure, error in
                // Not even the failure could be stored: leave it to the lease, which re-queues the node.
                self.logger.error("node run \(failure.id): failure report refused by the database (\(error)); its lease will lapse",
                                  metadata: ["node_run_id": "\(failure.id)", "attempt": "\(failure.attempt)"])
            }
            tally([], reports, summary: &summary)
        }
    }

    private func tally(_ completed: [SchedulerStore.Report], _ failed: [SchedulerStore.Report], summary: inout SchedulerSummary) {
        metrics?.finished("succeeded", count: completed.count { $0.accepted })
        metrics?.finished("failed", count: failed.count { $0.accepted && $0.outcome != "waiting" })
        metrics?.finished("waiting", count: failed.count { $0.accepted && $0.outcome == "waiting" })
        metrics?.finished("refused", count: completed.count { !$0.accepted } + failed.count { !$0.accepted })
        for report in completed {
            if report.accepted { summary.succeeded += 1 } else {
                summary.refused += 1
                logger.notice("result for node run \(report.nodeRunID) refused: \(report.reason ?? "")", metadata: ["node_run_id": "\(report.nodeRunID)"])
            }
        }
        for report in failed {
            if !report.accepted {
                summary.refused += 1
            } else if report.outcome == "waiting" {
                summary.waiting += 1
            } else {
                summary.failed += 1
            }
        }
    }

    /// Splits results into successes and failures. Outputs were checked in their handler's
    /// task (`checkedOutput`): an unstorable one fails its own node with invalid_output or
    /// output_too_large.
    private func prepare(_ finished: [Finished]) -> (successes: [SchedulerStore.Success], failures: [SchedulerStore.Failure]) {
        var successes: [SchedulerStore.Success] = []
        var failures: [SchedulerStore.Failure] = []
        for item in finished {
            switch item.outcome {
            case .success(let result):
                successes.append(.init(id: item.claim.nodeRunID, attempt: item.claim.attempt, output: result.output, cost: result.cost,
                                       tokensIn: result.tokensIn, tokensOut: result.tokensOut))
            case .unstorable(let problem, let cost):
                logger.warning("node run \(item.claim.nodeRunID) (\(item.claim.nodeKey)): \(problem)", metadata: Self.node(item.claim))
                failures.append(.init(id: item.claim.nodeRunID, attempt: item.claim.attempt,
                                      error: .init(code: problem.code, message: "\(item.claim.handler): \(problem)"),
                                      retryable: false, cost: cost))
            case .failure(let error):
                let retryAfterMs = error.retryAfter.map { Int(min(max($0, .zero), .seconds(3_600)) / .milliseconds(1)) }
                failures.append(.init(id: item.claim.nodeRunID, attempt: item.claim.attempt,
                                      error: .init(code: String(error.code.prefix(200)), message: Self.capped(error.message),
                                                   retryAfterMs: retryAfterMs),
                                      retryable: error.retryable))
            case .needsInput(let request):
                let prompt = Self.capped(request.prompt)
                failures.append(.init(id: item.claim.nodeRunID, attempt: item.claim.attempt,
                                      error: .init(code: "input_required", message: prompt), retryable: false, cost: request.cost,
                                      inputRequest: .init(prompt: prompt, resume: request.resume)))
            case .cancelled:
                continue
            }
        }
        return (successes, failures)
    }

    /// Sends `items` in one call; when the database refuses the call for its content (an
    /// error that is neither a lost connection nor transient), sends them one at a time
    /// and hands each item refused on its own to `refused`.
    static func isolating<Item: Sendable>(
        _ items: [Item], send: ([Item]) async throws -> [SchedulerStore.Report],
        refused: (Item, PGError) -> Void
    ) async throws -> [SchedulerStore.Report] {
        do {
            return try await send(items)
        } catch let error as PGError where error.kind == .server && !error.isTransient && items.count > 1 {
            var reports: [SchedulerStore.Report] = []
            for item in items {
                do {
                    reports += try await send([item])
                } catch let error as PGError where error.kind == .server && !error.isTransient {
                    refused(item, error)
                }
            }
            return reports
        } catch let error as PGError where error.kind == .server && !error.isTransient {
            refused(items[0], error)
            return []
        }
    }

    /// Error messages are a diagnosis, not a payload: 8 KiB at most.
    static func capped(_ message: String) -> String {
        message.utf8.count <= 8_192 ? message : String(decoding: message.utf8.prefix(8_192), as: UTF8.self) + "… (cut)"
    }

    /// LISTENs for readiness and cancel doorbells on its own connection, reconnecting
    /// with backoff, for every lane of the process (LaneSiblings; one when the scheduler
    /// runs alone): a cancel goes to every lane, a doorbell rung elsewhere wakes one, a
    /// (re)connect wakes all, and each then re-reads the database.
    private func listen() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await connect("-listen")
                defer { Task { await connection.close() } }
                try await connection.listen("trellis_ready")
                try await connection.listen("trellis_cancel")
                backoff = .milliseconds(100)
                siblings.wakeAll()
                while !Task.isCancelled {
                    guard let notification = try await connection.nextNotification(timeout: .seconds(1)) else { continue }
                    if notification.channel == "trellis_cancel" {
                        // Whichever lane holds the node stops it in its next pass: each is told, then woken.
                        if let id = Int64(notification.payload) { siblings.cancel(id) } else { siblings.wakeAll() }
                        continue
                    }
                    // A lane's own doorbell: the pass that rang it reported and claimed in
                    // one transaction, so it took what its results made ready (or took a
                    // full batch, and goes again anyway); passes that make nodes ready
                    // without claiming them go again themselves. Waking for it cost an empty
                    // claim after every pass — a millisecond of database time in the way of
                    // the next results. Its sibling lanes ignore it likewise (LaneSiblings).
                    if notification.channel == "trellis_ready", siblings.isLaneBackend(notification.senderPID) { continue }
                    siblings.wakeForDoorbell()
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("listener: \(error); reconnecting in \(backoff)")
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
