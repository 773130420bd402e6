import Foundation
import Testing
import TrellisPQ
import TrellisRelay
@testable import TrellisBench
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// `trellis bench relay` and its raw WebSocket clients: figures come from real deliveries.
@Suite("Relay bench")
struct RelayBenchTests {
    @Test func everySubscriberGetsTheWholeRunAndLagsAreMeasured() async throws {
        try await TestDatabase.withMigrated { db in
            var bench = RelayBench(databaseURL: db.url)
            bench.subscribers = 20
            bench.runNodes = 4
            let report = try await bench.run { until in
                var options = SchedulerOptions(name: "bench-relay-test")
                options.pollInterval = .milliseconds(50)
                let scheduler = Scheduler(databaseURL: db.url, registry: .builtIn, options: options)
                let task = Task { try await scheduler.run() }
                while await !until() { try await Task.sleep(for: .milliseconds(20)) }
                scheduler.requestStop()
                _ = try await task.value
            }
            // run.created, run.started, three events per node, run.finished.
            #expect(report.eventsPerSubscriber == 4 * 3 + 3)
            #expect(report.failedClients == 0)
            #expect(report.delivered == 20 * report.eventsPerSubscriber)
            #expect(report.liveSamples > 0 && report.liveSamples <= report.delivered)
            #expect(report.p50 >= 0 && report.p50 <= report.p99 && report.p99 <= report.max)
            #expect(report.subscribeSeconds > 0)
        }
    }

    @Test func clientsRefusedByTheRelayAreReportedNotWaitedFor() async throws {
        try await TestDatabase.withMigrated { db in
            try await RelayHarness.with(db.url) { relay in
                let clients = BenchSubscribers(count: 3, port: relay.port, token: "trl_forged", run: UUID())
                clients.start()
                let results = await clients.wait()
                #expect(clients.subscribed == 3 && clients.ended == 3)
                #expect(results.allSatisfy { !$0.complete && ($0.error ?? "").contains("upgrade refused") }, "\(results.map(\.error))")
            }
        }
    }
}
