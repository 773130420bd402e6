import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Schedules in SQL: the cron evaluator (a pure function of its arguments), catch-up,
/// exactly-once firing under concurrent firers, privileges and refusals.
@Suite("Schedules (SQL)")
struct ScheduleTests {
    static let oneNode = #"{"name": "tick", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo"}]}"#

    static func withWorkflow(_ body: (PGConnection) async throws -> Void) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.oneNode, as: "admin")
                try await body(conn)
            }
        }
    }

    static func next(_ conn: PGConnection, _ cron: String, _ tz: String, after: String) async throws -> String? {
        try await conn.query("""
            SELECT to_char(trellis.cron_next($1, $2, $3::timestamptz) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS') AS t
            """, [cron, tz, after]).single().decodeIfPresent("t")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var cron: String
        var tz: String
        var after: String
        var expected: String?
        var testDescription: String { "\(cron) in \(tz) after \(after)" }
    }

    static let cases: [Case] = [
        // Spring forward in New York (02:00 → 03:00): 02:30 does not exist and fires at 03:30 EDT.
        .init(cron: "30 2 * * *", tz: "America/New_York", after: "2026-03-07 12:00Z", expected: "2026-03-08 07:30:00"),
        // Fall back (02:00 → 01:00): 01:30 happens twice and fires once, the second time (EST) …
        .init(cron: "30 1 * * *", tz: "America/New_York", after: "2026-10-31 12:00Z", expected: "2026-11-01 06:30:00"),
        // … and next on the day after, not again within the repeated hour.
        .init(cron: "30 1 * * *", tz: "America/New_York", after: "2026-11-01 06:30Z", expected: "2026-11-02 06:30:00"),
        // A weekday schedule keeps its wall time across Europe's change to summer time.
        .init(cron: "0 9 * * mon-fri", tz: "Europe/Berlin", after: "2026-03-27 12:00Z", expected: "2026-03-30 07:00:00"),
        .init(cron: "0 9 * * mon-fri", tz: "Europe/Berlin", after: "2026-11-27 12:00Z", expected: "2026-11-30 08:00:00"),
        .init(cron: "*/15 * * * * *", tz: "UTC", after: "2026-01-01 00:00:59Z", expected: "2026-01-01 00:01:00"),
        .init(cron: "0 0 29 feb *", tz: "UTC", after: "2026-03-01Z", expected: "2028-02-29 00:00:00"),
        // Day of month and day of week both restricted: either matches (cron's rule).
        .init(cron: "0 12 1 * mon", tz: "UTC", after: "2026-11-30 12:00Z", expected: "2026-12-01 12:00:00"),
        .init(cron: "@hourly", tz: "UTC", after: "2026-01-01 00:30Z", expected: "2026-01-01 01:00:00"),
        .init(cron: "0 0 30 2 *", tz: "UTC", after: "2026-01-01Z", expected: nil),
    ]

    @Test(arguments: cases) func cronNextFollowsCronAndDaylightSaving(_ c: Case) async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let next = try await Self.next(conn, c.cron, c.tz, after: c.after)
                #expect(next == c.expected)
            }
        }
    }

    /// An hourly schedule through New York's autumn change: the repeated hour runs once.
    @Test func theRepeatedHourRunsOnce() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                var ticks: [String] = []
                var after = "2026-11-01 03:30Z"
                while ticks.count < 4, let t = try await Self.next(conn, "0 * * * *", "America/New_York", after: after) {
                    ticks.append(t)
                    after = t + "Z"
                }
                // 00:00 EDT, then 01:00 EST (01:00 EDT is the repeated hour's first pass), 02:00, 03:00 EST.
                #expect(ticks == ["2026-11-01 04:00:00", "2026-11-01 06:00:00", "2026-11-01 07:00:00", "2026-11-01 08:00:00"])
            }
        }
    }

    @Test(arguments: [("61 * * * *", "minute: 61 is outside 0-59"), ("* * *", "must have 5 fields"), ("5-1 * * * *", "runs backwards"),
                      ("*/0 * * * *", "step must be at least 1"), ("0 0 * * funday", "\"funday\" is not a value"), ("0 0 30 2 *", "never fires")])
    func badExpressionsAreRefusedByName(_ cron: String, _ message: String) async throws {
        try await Self.withWorkflow { conn in
            var spec = ScheduleStore.Spec(name: "bad", workflow: "tick", cron: cron)
            spec.timezone = "UTC"
            let error = await #expect(throws: PGError.self) { try await ScheduleStore(connection: conn).create(spec, as: "admin") }
            #expect(error?.sqlState == "22023")
            #expect(error?.message.contains(message) == true, "\(error?.message ?? "")")
            let left = try await conn.query("SELECT count(*) AS n FROM trellis.schedules").single().decode("n", as: Int.self)
            #expect(left == 0)
        }
    }

    /// What the schedulers find after all of them were stopped: the ticks of the last day
    /// that were not fired, treated by each schedule's policy.
    @Test func catchUpAfterAllSchedulersWereStopped() async throws {
        try await Self.withWorkflow { conn in
            let store = ScheduleStore(connection: conn)
            // Hourly at a minute half an hour from now, so the latest due tick is 29–31 min old.
            let minute = (Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: Date()).minute! + 30) % 60
            for policy in ["skip", "one", "all"] {
                var spec = ScheduleStore.Spec(name: "hourly-\(policy)", workflow: "tick", cron: "\(minute) * * * *")
                spec.catchUp = policy
                spec.catchUpMax = 3
                _ = try await store.create(spec, as: "admin")
            }
            // Stopped for five hours: the schedules were due five hours ago.
            try await conn.query("UPDATE trellis.schedules SET next_fire_at = next_fire_at - interval '5 hours'")
            let fired = try await store.fireDue()
            #expect(fired.runs == 4)
            let rows = try await conn.query("""
                SELECT s.name, count(r.id) AS runs, max(r.scheduled_for) AS latest, bool_and(r.scheduled_for <= now() - interval '29 minutes') AS late,
                       min(s.next_fire_at) > now() AS ahead, max(s.fires) AS fires
                FROM trellis.schedules s LEFT JOIN trellis.workflow_runs r ON r.schedule_id = s.id
                GROUP BY s.name ORDER BY s.name
                """).rows
            let runs = try Dictionary(uniqueKeysWithValues: rows.map { (try $0.decode("name", as: String.self), try $0.decode("runs", as: Int.self)) })
            #expect(runs == ["hourly-skip": 0, "hourly-one": 1, "hourly-all": 3])
            for row in rows {
                #expect(try row.decode("ahead", as: Bool.self), "next tick is in the future")
                #expect(try row.decode("fires", as: Int.self) == row.decode("runs", as: Int.self))
            }
            // The catch-up runs are the latest ticks, an hour apart, with their tick in the context.
            let ticks = try await conn.query("""
                SELECT extract(epoch FROM r.scheduled_for)::bigint AS t, r.context -> 'schedule' ->> 'name' AS name, r.started_by = p.id AS as_owner
                FROM trellis.workflow_runs r JOIN trellis.schedules s ON s.id = r.schedule_id JOIN trellis.principals p ON p.name = 'admin'
                WHERE s.name = 'hourly-all' ORDER BY r.scheduled_for
                """).rows
            let seconds = try ticks.map { try $0.decode("t", as: Int64.self) }
            #expect(zip(seconds.dropFirst(), seconds).allSatisfy { $0 - $1 == 3_600 })
            #expect(try ticks.allSatisfy { try $0.decode("name", as: String.self) == "hourly-all" && $0.decode("as_owner", as: Bool.self) })
            // Nothing is due any more.
            #expect(try await store.fireDue().runs == 0)
        }
    }

    /// A schedule that ticks every second, stopped for a day: one bounded call catches up
    /// the latest ticks its policy asks for and moves on to the next tick.
    @Test func aLongStopIsCaughtUpWithBoundedWork() async throws {
        try await Self.withWorkflow { conn in
            var spec = ScheduleStore.Spec(name: "often", workflow: "tick", cron: "* * * * * *")
            spec.catchUp = "all"
            spec.catchUpMax = 4
            _ = try await ScheduleStore(connection: conn).create(spec, as: "admin")
            try await conn.query("UPDATE trellis.schedules SET next_fire_at = date_trunc('second', now()) - interval '23 hours'")
            let fired = try await ScheduleStore(connection: conn).fireDue()
            #expect(fired.runs == 4)
            // The fired ticks are the latest before the call's start (now() of its transaction,
            // recorded as the runs' created_at), and the next tick is the one after them.
            let row = try await conn.query("""
                SELECT max(r.scheduled_for) > max(r.created_at) - interval '1 second' AS recent,
                       extract(epoch FROM max(r.scheduled_for) - min(r.scheduled_for))::int AS span,
                       (SELECT next_fire_at FROM trellis.schedules) = max(r.scheduled_for) + interval '1 second' AS ahead
                FROM trellis.workflow_runs r
                """).single()
            #expect(try row.decode("recent", as: Bool.self), "the latest ticks, not the oldest")
            #expect(try row.decode("span", as: Int.self) == 3)
            #expect(try row.decode("ahead", as: Bool.self))
        }
    }

    /// Four connections fire the same due schedule at once: each tick makes one run, and
    /// firing the same ticks again (as after a crash between start and bookkeeping) makes none.
    @Test func concurrentFirersStartEachTickOnce() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.oneNode, as: "admin")
                var spec = ScheduleStore.Spec(name: "busy", workflow: "tick", cron: "* * * * * *")
                spec.catchUp = "all"
                spec.catchUpMax = 5
                _ = try await ScheduleStore(connection: conn).create(spec, as: "admin")
                try await conn.query("UPDATE trellis.schedules SET next_fire_at = date_trunc('second', now()) - interval '200 seconds'")
                let saved = try await conn.query("SELECT next_fire_at FROM trellis.schedules").single().decode("next_fire_at", as: Date.self)
                let firers = try await withThrowingTaskGroup(of: Int.self) { group in
                    for _ in 0..<4 {
                        group.addTask { try await db.withConnection { try await ScheduleStore(connection: $0).fireDue().runs } }
                    }
                    return try await group.reduce(0, +)
                }
                func runs() async throws -> (Int, Int) {
                    let row = try await conn.query("SELECT count(*) AS n, count(DISTINCT scheduled_for) AS ticks FROM trellis.workflow_runs").single()
                    return (try row.decode("n"), try row.decode("ticks"))
                }
                // The five caught-up ticks, plus any tick that fell due while a slow host
                // ran the firers (the cron fires every second; each firing catches up at most
                // catch_up_max): each tick exactly once, and at most 4 × 5 of the 200 past ticks
                // however long the host stalls.
                let (made, ticks) = try await runs()
                #expect(firers == made && made == ticks && made >= 5 && made <= 20, "\(firers) firings, \(made) runs, \(ticks) ticks")
                try await conn.query("UPDATE trellis.schedules SET next_fire_at = $1", [saved])
                _ = try await ScheduleStore(connection: conn).fireDue()
                let (total, distinct) = try await runs()
                #expect(total == distinct, "a tick fired again reuses its run (idempotency key)")
            }
        }
    }

    @Test func privilegesPauseResumeAndDelete() async throws {
        try await Self.withWorkflow { conn in
            let store = ScheduleStore(connection: conn)
            let principals = PrincipalStore(connection: conn)
            for name in ["ops", "viewer", "mallory"] { _ = try await conn.query("SELECT trellis.create_principal($1, 'user')", [name]) }
            _ = try await principals.grant("run", on: "tick", to: "ops", as: "admin")
            _ = try await principals.grant("view", on: "tick", to: "viewer", as: "admin")
            var spec = ScheduleStore.Spec(name: "nightly", workflow: "tick", cron: "0 3 * * *")
            let refused = await #expect(throws: PGError.self) { try await store.create(spec, as: "viewer") }
            #expect(refused?.sqlState == "42501")
            spec.input = "[1]"
            #expect(await #expect(throws: PGError.self) { try await store.create(spec, as: "ops") }?.sqlState == "22023")
            spec.input = "{}"
            spec.catchUp = "sometimes"
            #expect(await #expect(throws: PGError.self) { try await store.create(spec, as: "ops") }?.sqlState == "22023")
            spec.catchUp = "one"
            spec.workflow = "nope"
            #expect(await #expect(throws: PGError.self) { try await store.create(spec, as: "ops") }?.sqlState == "TR404")
            spec.workflow = "tick"
            _ = try await store.create(spec, as: "ops")
            #expect(await #expect(throws: PGError.self) { try await store.create(spec, as: "ops") }?.sqlState == "TR409")

            #expect(try await store.list(as: "viewer").text.contains("nightly"))
            #expect(try await store.list(as: "mallory").text == "[]")
            #expect(await #expect(throws: PGError.self) { try await store.show("nightly", as: "mallory") }?.sqlState == "42501")
            #expect(await #expect(throws: PGError.self) { try await store.setEnabled("nightly", false, as: "viewer") }?.sqlState == "42501")
            #expect(await #expect(throws: PGError.self) { try await store.show("nope", as: "ops") }?.sqlState == "TR404")

            // Paused: not due even when its time has come; resumed: from its next tick.
            let paused = try await store.setEnabled("nightly", false, as: "ops").decode(JSONValue.self)
            #expect(paused["enabled"]?.boolValue == false)
            #expect(try await store.fireDue().runs == 0)
            let resumed = try await store.setEnabled("nightly", true, as: "ops").decode(JSONValue.self)
            #expect(resumed["enabled"]?.boolValue == true)
            #expect(resumed["upcoming"]?.arrayValue?.count == 3)

            // The owner loses `run`: the due tick starts nothing, says why, and the schedule moves on.
            _ = try await principals.revoke("run", on: "tick", from: "ops", as: "admin")
            try await conn.query("UPDATE trellis.schedules SET next_fire_at = now() - interval '1 second'")
            #expect(try await store.fireDue().runs == 0)
            let after = try await conn.query("SELECT last_error, next_fire_at > now() AS ahead FROM trellis.schedules").single()
            #expect(try after.decode("last_error", as: String.self).contains("42501"))
            #expect(try after.decode("ahead", as: Bool.self))

            #expect(await #expect(throws: PGError.self) { try await store.delete("nightly", as: "viewer") }?.sqlState == "42501")
            try await store.delete("nightly", as: "admin")
            #expect(try await store.list(as: "admin").text == "[]")
        }
    }
}
