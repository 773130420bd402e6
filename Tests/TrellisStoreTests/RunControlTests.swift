import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

@Suite("Cancel, pause and resume")
struct RunControlTests {
    @Test func cancelStopsOpenWorkAndRefusesLateResults() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "admin").runID
            let plan = try #require(try await driver.claim().first)
            _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: plan.nodeRunID, attempt: 1, output: .object(["topic": .string("t")]))])
            let inFlight = try await driver.claim(max: 1)  // one branch running, two ready
            #expect(inFlight.count == 1)

            #expect(try await driver.store.control(.cancel, run: run, as: "admin", reason: "changed my mind") == "cancelled")
            let final = try await driver.store.run(run)
            #expect(final.status == "cancelled")
            #expect(try final.error?.decode(JSONValue.self)["message"] == .string("changed my mind"))
            let status = try await statuses(driver.store, run)
            #expect(status["plan"] == "succeeded")
            #expect(["search_web", "search_papers", "search_code", "gather", "report"].allSatisfy { status[$0] == "cancelled" })
            let late = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: inFlight[0].nodeRunID, attempt: 1, output: .null)])
            #expect(late[0].accepted == false)
            #expect(try await driver.claim().isEmpty)
            let events = try await driver.store.events(of: run)
            #expect(events.last?.type == "run.finished")
            #expect(try events.last?.data.decode(JSONValue.self)["status"] == .string("cancelled"))

            for operation in RunStore.Control.allCases {
                let error = await #expect(throws: PGError.self) { try await driver.store.control(operation, run: run, as: "admin") }
                #expect(error?.sqlState == "TR409")
                #expect(error?.message.contains("it already cancelled") == true)
            }
        }
    }

    @Test func pauseHoldsReadyWorkAndResumeReleasesIt() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let driver = try await Driver.make(conn)
            let run = try await driver.store.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "admin").runID
            let plan = try #require(try await driver.claim().first)
            #expect(try await driver.store.control(.pause, run: run, as: "admin") == "paused")
            // The running node may finish; what it makes due is held, not claimable.
            _ = try await driver.scheduling.complete(scheduler: driver.scheduler, [.init(id: plan.nodeRunID, attempt: 1, output: .object(["topic": .string("t")]))])
            #expect(try await driver.claim().isEmpty)
            #expect(try await statuses(driver.store, run)["search_web"] == "held")
            let again = await #expect(throws: PGError.self) { try await driver.store.control(.pause, run: run, as: "admin") }
            #expect(again?.sqlState == "TR409")

            #expect(try await driver.store.control(.resume, run: run, as: "admin") == "running")
            try await driver.drain()
            #expect(try await driver.store.run(run).status == "succeeded")
            let types = try await driver.store.events(of: run).map(\.type)
            #expect(types.contains("run.paused") && types.contains("run.resumed"))
            let notPaused = await #expect(throws: PGError.self) { try await driver.store.control(.resume, run: run, as: "admin") }
            #expect(notPaused?.sqlState == "TR409")
        }
    }

    @Test func controlNeedsTheRunPrivilege() async throws {
        try await TestDatabase.withSeeded { db, conn in
            let store = RunStore(connection: conn)
            try await PrincipalStore(connection: conn).create("viewer", as: "admin")
            try await PrincipalStore(connection: conn).grant("view", on: "linear-pipeline", to: "viewer", as: "admin")
            let run = try await store.start("linear-pipeline", as: "admin").runID
            let denied = await #expect(throws: PGError.self) { try await store.control(.cancel, run: run, as: "viewer") }
            #expect(denied?.sqlState == "42501")
            #expect(try await store.run(run).status == "queued")
            let unknown = await #expect(throws: PGError.self) { try await store.control(.pause, run: UUID(), as: "admin") }
            #expect(unknown?.sqlState == "TR404")
            try await PrincipalStore(connection: conn).grant("run", on: "linear-pipeline", to: "viewer", as: "admin")
            #expect(try await store.control(.cancel, run: run, as: "viewer") == "cancelled")
            #expect(try await store.list(workflow: "linear-pipeline").map(\.status) == ["cancelled"])
        }
    }
}
