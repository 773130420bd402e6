import Foundation
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
    public var concurrency = 8
    /// Nodes claimed per statement at most.
    public var batch = 32
    public var leaseSeconds = 30
    /// The fallback when no NOTIFY arrives (and the only wake-up with `pollOnly`).
    public var pollInterval: Duration = .seconds(1)
    /// No LISTEN connection: for connection poolers that break LISTEN.
    public var pollOnly = false
    /// How long a graceful stop waits for handlers in flight before releasing them.
    public var shutdownGrace: Duration = .seconds(30)

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
}

/// One scheduler instance: claims ready nodes it has handlers for, runs them
/// concurrently, reports results in batches, heartbeats its leases and reclaims expired
/// ones. All state lives in the database; killing the process loses nothing (its nodes
/// are reclaimed after their lease). Many instances may run against one database.
public final class Scheduler: Sendable {
    public let databaseURL: String
    public let registry: HandlerRegistry
    public let options: SchedulerOptions
    private let log: @Sendable (String) -> Void
    private let stopping = Atomic<Bool>(false)
    private let wakeup = Wakeup()
    private let inbox = Inbox()

    public init(databaseURL: String, registry: HandlerRegistry, options: SchedulerOptions,
                log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.databaseURL = databaseURL
        self.registry = registry
        self.options = options
        self.log = log
    }

    /// Asks a running `run()` to stop: no new claims, handlers in flight finish (up to
    /// the grace period), then the instance deregisters. Safe from a signal handler task.
    public func requestStop() {
        stopping.store(true, ordering: .relaxed)
        Task { await wakeup.signal() }
    }

    enum Outcome: Sendable {
        case success(JSONValue, Decimal?)
        case failure(HandlerError)
        /// Cancelled (lease lost, run cancelled, shutdown): nothing to report.
        case cancelled
    }

    struct Finished: Sendable {
        var claim: RunStore.Claim
        var outcome: Outcome
    }

    /// Results of handlers and cancel requests from the listener, for the main loop.
    actor Inbox {
        private var finished: [Finished] = []
        private var cancels: Set<Int64> = []
        private var updates: [RunStore.Update] = []
        func put(_ item: Finished) { finished.append(item) }
        func cancel(_ id: Int64) { cancels.insert(id) }
        func update(_ item: RunStore.Update) { updates.append(item) }
        func putBack(_ items: [RunStore.Update]) { updates = items + updates }
        /// Everything at once: a handler queues its progress before its result, so one
        /// drain never holds a result without the progress said before it.
        func drain() -> (updates: [RunStore.Update], finished: [Finished], cancels: Set<Int64>) {
            defer {
                updates = []
                finished = []
                cancels = []
            }
            return (updates, finished, cancels)
        }
    }

    /// Runs until `requestStop()`; throws when the database cannot be used.
    public func run() async throws -> SchedulerSummary {
        let served = options.handlers ?? registry.names
        for name in served where registry.handler(named: name) == nil {
            throw HandlerError(code: "unknown_handler", message: "no handler named \"\(name)\" is registered (known: \(registry.names.joined(separator: ", ")))", retryable: false)
        }
        var connection = try await PGConnection.connect(databaseURL, applicationName: "trellis-scheduler \(options.name)")
        var store = RunStore(connection: connection)
        let id = try await store.registerScheduler(
            name: options.name, handlers: served, concurrency: options.concurrency,
            hostname: ProcessInfo.processInfo.hostName, pid: Int(getpid()), version: TrellisVersion.current)
        log("scheduler \(options.name) started (id \(id); handlers \(served.joined(separator: ",")); concurrency \(options.concurrency))")
        let listener = options.pollOnly ? nil : Task { await listen() }
        var summary = SchedulerSummary()
        var inFlight: [Int64: Task<Void, Never>] = [:]
        let clock = ContinuousClock()
        var lastHeartbeat = clock.now
        var lastReclaim = clock.now - .seconds(3600)
        var stopDeadline: ContinuousClock.Instant?
        let lease = Duration.seconds(options.leaseSeconds)

        while true {
            do {
                let (updates, finished, cancels) = await inbox.drain()
                for id in cancels { inFlight[id]?.cancel() }
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
                if !finished.isEmpty {
                    for item in finished { inFlight[item.claim.nodeRunID] = nil }
                    do {
                        try await report(finished, store: store, scheduler: id, summary: &summary)
                    } catch {
                        // Keep the results for the next attempt (after a reconnect).
                        for item in finished { await inbox.put(item) }
                        throw error
                    }
                }
                if stopping.load(ordering: .relaxed) {
                    if stopDeadline == nil {
                        stopDeadline = clock.now + options.shutdownGrace
                        log("scheduler \(options.name) stopping: \(inFlight.count) handler(s) in flight")
                    }
                    if inFlight.isEmpty { break }
                    if clock.now >= stopDeadline! {
                        inFlight.values.forEach { $0.cancel() }
                        break
                    }
                }

                var claimed = 0
                if !stopping.load(ordering: .relaxed) && inFlight.count < options.concurrency {
                    let claims = try await store.claim(
                        scheduler: id, handlers: served, max: min(options.batch, options.concurrency - inFlight.count),
                        leaseSeconds: options.leaseSeconds)
                    for claim in claims {
                        inFlight[claim.nodeRunID] = start(claim)
                    }
                    claimed = claims.count
                }

                if clock.now - lastHeartbeat >= lease / 3 {
                    let lost = try await store.heartbeat(scheduler: id, nodeRunIDs: Array(inFlight.keys), leaseSeconds: options.leaseSeconds)
                    for nodeRunID in lost { inFlight[nodeRunID]?.cancel() }
                    lastHeartbeat = clock.now
                }
                if clock.now - lastReclaim >= lease / 2 {
                    let reclaimed = try await store.reclaimExpired()
                    if reclaimed > 0 { log("reclaimed \(reclaimed) node(s) with expired leases") }
                    let expired = try await ApprovalStore(connection: connection).expireDue()
                    if expired > 0 { log("applied the expiry outcome of \(expired) approval(s)") }
                    lastReclaim = clock.now
                }
                if claimed == 0 && finished.isEmpty {
                    await wakeup.wait(timeout: stopping.load(ordering: .relaxed) ? .milliseconds(100) : options.pollInterval)
                }
            } catch let error as PGError where error.kind == .connectionClosed || error.kind == .connection {
                // The database went away (restart, failover, network): keep the handlers
                // running, reconnect with backoff, and carry on under the same scheduler id
                // so their results are still accepted while their leases hold.
                log("database connection lost: \(error); reconnecting")
                await connection.close()
                guard let fresh = await reconnect() else { break }
                connection = fresh
                store = RunStore(connection: fresh)
            } catch let error as PGError where error.isTransient {
                // A deadlock victim or lock timeout (say, against a cancel of the same run):
                // the unreported results are back in the inbox; try again shortly.
                log("transient database error, retrying: \(error)")
                try? await Task.sleep(for: .milliseconds(Int.random(in: 10...50)))
            } catch {
                listener?.cancel()
                inFlight.values.forEach { $0.cancel() }
                await connection.close()
                throw error
            }
        }
        do {
            // Report what finished during the last round, then give back anything left.
            let (updates, finished, _) = await inbox.drain()
            if !updates.isEmpty { _ = try await store.reportProgress(scheduler: id, updates) }
            try await report(finished, store: store, scheduler: id, summary: &summary)
            summary.released = try await store.stopScheduler(id)
        } catch {
            listener?.cancel()
            await connection.close()
            throw error
        }
        listener?.cancel()
        await connection.close()
        log("scheduler \(options.name) stopped: \(summary.succeeded) succeeded, \(summary.failed) failed, \(summary.released) released")
        return summary
    }

    /// Opens a new main connection, retrying with backoff (100 ms doubling to 5 s) until it
    /// works or a stop is requested (nil).
    private func reconnect() async -> PGConnection? {
        var backoff = Duration.milliseconds(100)
        while !stopping.load(ordering: .relaxed) {
            if let connection = try? await PGConnection.connect(databaseURL, applicationName: "trellis-scheduler \(options.name)") {
                log("reconnected to the database")
                return connection
            }
            await wakeup.wait(timeout: backoff)
            backoff = min(backoff * 2, .seconds(5))
        }
        return nil
    }

    private func start(_ claim: RunStore.Claim) -> Task<Void, Never> {
        let handler = registry.handler(named: claim.handler)
        let inbox = self.inbox
        let wakeup = self.wakeup
        return Task {
            let outcome: Outcome
            if let handler {
                let context = NodeContext(
                    nodeRunID: claim.nodeRunID, runID: claim.runID, nodeKey: claim.nodeKey, attempt: claim.attempt,
                    input: (try? claim.input.decode(JSONValue.self)) ?? .null,
                    config: (try? claim.config.decode(JSONValue.self)) ?? .object([:]),
                    idempotencyKey: "\(claim.runID.uuidString.lowercased()):\(claim.nodeKey):\(claim.itemIndex.map(String.init) ?? "-")",
                    itemIndex: claim.itemIndex,
                    reporter: ProgressReporter { kind, percent, text, logKind in
                        let update = kind == "progress"
                            ? RunStore.Update.progress(id: claim.nodeRunID, attempt: claim.attempt, percent: percent, message: text)
                            : RunStore.Update.log(id: claim.nodeRunID, attempt: claim.attempt, kind: logKind ?? "log", body: text)
                        await inbox.update(update)
                    })
                outcome = await Self.execute(handler, context, timeoutMilliseconds: claim.timeoutMilliseconds)
            } else {
                outcome = .failure(HandlerError(code: "unknown_handler", message: "no handler named \(claim.handler)", retryable: false))
            }
            await inbox.put(Finished(claim: claim, outcome: outcome))
            await wakeup.signal()
        }
    }

    /// Runs a handler, cancelling it at the node's timeout (a retryable failure).
    static func execute(_ handler: any NodeHandler, _ context: NodeContext, timeoutMilliseconds: Int?) async -> Outcome {
        do {
            let result = try await withThrowingTaskGroup(of: HandlerOutput?.self) { group in
                group.addTask { try await handler.run(context) }
                if let timeoutMilliseconds {
                    group.addTask {
                        try await Task.sleep(for: .milliseconds(timeoutMilliseconds))
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
            return .success(result.output, result.cost)
        } catch let error as HandlerError {
            return .failure(error)
        } catch is CancellationError {
            return .cancelled
        } catch {
            if Task.isCancelled { return .cancelled }
            return .failure(HandlerError(code: "handler_error", message: String(describing: error)))
        }
    }

    private func report(_ finished: [Finished], store: RunStore, scheduler: Int64, summary: inout SchedulerSummary) async throws {
        var successes: [RunStore.Success] = []
        var failures: [RunStore.Failure] = []
        for item in finished {
            switch item.outcome {
            case .success(let output, let cost):
                successes.append(.init(id: item.claim.nodeRunID, attempt: item.claim.attempt, output: output, cost: cost))
            case .failure(let error):
                failures.append(.init(id: item.claim.nodeRunID, attempt: item.claim.attempt,
                                      error: .init(code: error.code, message: error.message), retryable: error.retryable))
            case .cancelled:
                continue
            }
        }
        if !successes.isEmpty {
            for report in try await store.complete(scheduler: scheduler, successes) {
                if report.accepted { summary.succeeded += 1 } else {
                    summary.refused += 1
                    log("result for node run \(report.nodeRunID) refused: \(report.reason ?? "")")
                }
            }
        }
        if !failures.isEmpty {
            for report in try await store.fail(scheduler: scheduler, failures) {
                if report.accepted { summary.failed += 1 } else { summary.refused += 1 }
            }
        }
    }

    /// LISTENs for readiness and cancel doorbells on its own connection, reconnecting
    /// with backoff; every (re)connect wakes the loop, which re-reads the database.
    private func listen() async {
        var backoff = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PGConnection.connect(databaseURL, applicationName: "trellis-scheduler-listen \(options.name)")
                defer { Task { await connection.close() } }
                try await connection.listen("trellis_ready")
                try await connection.listen("trellis_cancel")
                backoff = .milliseconds(100)
                await wakeup.signal()
                while !Task.isCancelled {
                    guard let notification = try await connection.nextNotification(timeout: .seconds(1)) else { continue }
                    if notification.channel == "trellis_cancel", let id = Int64(notification.payload) {
                        await inbox.cancel(id)
                    }
                    await wakeup.signal()
                }
            } catch {
                if Task.isCancelled { return }
                log("listener: \(error); reconnecting in \(backoff)")
                try? await Task.sleep(for: backoff)
                backoff = min(backoff * 2, .seconds(5))
            }
        }
    }
}
