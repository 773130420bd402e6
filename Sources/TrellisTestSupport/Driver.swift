import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

/// Drives runs the way a scheduler would, without one: claim every ready node and
/// complete it with `respond(claim)` (default: echo the input), until nothing is ready.
/// A refused result or a run that does not drain throws.
public struct Driver: Sendable {
    public let store: RunStore
    /// The scheduler side: claim, complete, fail, heartbeat, reclaim, stop.
    public let scheduling: SchedulerStore
    public let scheduler: Int64
    public static let handlers = ["echo", "sleep", "http", "sql", "fail"]

    public init(store: RunStore, scheduling: SchedulerStore, scheduler: Int64) {
        self.store = store
        self.scheduling = scheduling
        self.scheduler = scheduler
    }

    public static func make(_ conn: PGConnection, name: String = "test-scheduler") async throws -> Driver {
        let scheduling = SchedulerStore(connection: conn)
        return Driver(store: RunStore(connection: conn), scheduling: scheduling,
                      scheduler: try await scheduling.registerScheduler(name: name, handlers: handlers))
    }

    /// Claims once; returns the claims. The lease is the longest the default bound allows
    /// (600 s), so a lease never runs out by itself under a loaded CI machine's stalls:
    /// tests that need an expired lease set `lease_expires_at` in the past.
    public func claim(max: Int = 100) async throws -> [SchedulerStore.Claim] {
        try await scheduling.claim(scheduler: scheduler, handlers: Self.handlers, max: max, leaseSeconds: 600)
    }

    /// Reports every claim succeeded, each with an empty object as its output.
    @discardableResult
    public func complete(_ claims: [SchedulerStore.Claim]) async throws -> [SchedulerStore.Report] {
        try await scheduling.complete(scheduler: scheduler, claims.map { .init(id: $0.nodeRunID, attempt: $0.attempt, output: .object([:])) })
    }

    public func echo(_ claim: SchedulerStore.Claim) throws -> JSONValue {
        try claim.input.decode(JSONValue.self)
    }

    @discardableResult
    public func drain(_ respond: ((SchedulerStore.Claim) throws -> JSONValue)? = nil) async throws -> [String] {
        var order: [String] = []
        for _ in 0..<100 {
            let claims = try await claim()
            if claims.isEmpty { return order }
            order += claims.map(\.nodeKey)
            var results: [SchedulerStore.Success] = []
            for claim in claims {
                do {
                    results.append(.init(id: claim.nodeRunID, attempt: claim.attempt, output: try (respond ?? echo)(claim)))
                } catch is HandlerFailure {
                    continue  // left running: the test reports it itself
                }
            }
            if results.isEmpty { return order }
            let reports = try await scheduling.complete(scheduler: scheduler, results)
            let refused = reports.filter { !$0.accepted }
            guard refused.isEmpty else { throw DriverError("results refused while draining: \(refused)") }
        }
        throw DriverError("runs did not drain in 100 rounds")
    }
}

public func statuses(_ store: RunStore, _ run: UUID) async throws -> [String: String] {
    Dictionary(uniqueKeysWithValues: try await store.nodes(of: run).map { ($0.key, $0.status) })
}


/// Thrown by a test responder to leave a claim unreported (as if the handler were still busy).
public struct HandlerFailure: Error {
    public init() {}
}

/// Why a `Driver` stopped.
public struct DriverError: Error, CustomStringConvertible {
    public var description: String
    init(_ description: String) { self.description = description }
}
