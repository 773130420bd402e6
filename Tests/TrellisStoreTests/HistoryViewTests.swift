import Foundation
import Testing
import TrellisBench
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The history views and workflow_stats, checked figure by figure against a generated
/// history whose expected values are computed in Swift (HistoryFixture).
@Suite("History views")
struct HistoryViewTests {
    static let runs = 2400

    func decimal(_ row: PGRow, _ column: String) throws -> Decimal? {
        try row.decodeIfPresent(column, as: Decimal.self)
    }

    @Test func runHistoryMatchesTheGeneratedRuns() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let fixture = try await HistoryFixture.load(conn, runs: Self.runs)
                let rows = try await conn.query("SELECT * FROM trellis.run_history").rows
                #expect(rows.count == Self.runs)
                let expected = Dictionary(uniqueKeysWithValues: fixture.runs.map { ($0.id, $0) })
                var checked = 0
                for row in rows {
                    let id: UUID = try row.decode("run_id")
                    guard let run = expected[id] else { Issue.record("unexpected run \(id)"); continue }
                    let nodes = run.nodes
                    let attempts = nodes.reduce(0) { $0 + $1.attempts.count }
                    #expect(try row.decode("workflow", as: String.self) == run.workflow)
                    #expect(try row.decode("version", as: Int.self) == run.version)
                    #expect(try row.decode("status", as: String.self) == run.status)
                    #expect(try row.decode("started_by", as: String.self) == run.starter)
                    #expect(try row.decode("queue_ms", as: Int64.self) == run.queueMS)
                    #expect(try row.decodeIfPresent("duration_ms", as: Int64.self) == run.durationMS)
                    #expect(try row.decode("nodes", as: Int.self) == nodes.count)
                    for status in ["succeeded", "failed", "skipped", "cancelled"] {
                        #expect(try row.decode("nodes_\(status)", as: Int.self) == nodes.filter { $0.status == status }.count)
                    }
                    #expect(try row.decode("attempts", as: Int.self) == attempts)
                    #expect(try row.decode("retries", as: Int.self) == attempts - nodes.filter { !$0.attempts.isEmpty }.count)
                    #expect(try decimal(row, "total_cost") == run.total_cost)
                    #expect(try row.decodeIfPresent("failed_node", as: String.self) == run.failed_node)
                    checked += 1
                }
                #expect(checked == Self.runs)
                // The mix really has every outcome, retries and costs.
                let statuses = Set(fixture.runs.map(\.status))
                #expect(statuses == ["succeeded", "failed", "cancelled", "running", "waiting"])
                #expect(fixture.runs.flatMap(\.nodes).contains { $0.attempts.count == 3 })
            }
        }
    }

    @Test func nodeAndAttemptHistoryMatch() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let fixture = try await HistoryFixture.load(conn, runs: 900, seed: 7)
                var expected: [String: HistoryFixture.Node] = [:]
                for run in fixture.runs { for node in run.nodes { expected["\(run.id):\(node.node_key)"] = node } }
                let rows = try await conn.query("SELECT * FROM trellis.node_history").rows
                #expect(rows.count == expected.count)
                for row in rows {
                    let key = "\(try row.decode("run_id", as: UUID.self)):\(try row.decode("node_key", as: String.self))"
                    guard let node = expected[key] else { Issue.record("unexpected node \(key)"); continue }
                    #expect(try row.decode("status", as: String.self) == node.status, "\(key)")
                    #expect(try row.decode("attempts", as: Int.self) == node.attempt)
                    #expect(try row.decodeIfPresent("wait_ms", as: Int64.self) == node.waitMS, "\(key)")
                    #expect(try row.decodeIfPresent("duration_ms", as: Int64.self) == node.durationMS, "\(key)")
                    #expect(try decimal(row, "cost") == node.cost)
                    #expect(try row.decodeIfPresent("scheduler", as: String.self) == node.claimed_by)
                    #expect(try row.decodeIfPresent("error_code", as: String.self) == node.error?["code"]?.stringValue)
                }

                // Attempts: counts by workflow and outcome, and total busy time.
                let attempts = fixture.runs.flatMap { run in run.nodes.flatMap { node in node.attempts.map { (run.workflow, $0) } } }
                let byOutcome = Dictionary(grouping: attempts) { "\($0.0)/\($0.1.outcome)" }.mapValues(\.count)
                let counted = try await conn.query(
                    "SELECT workflow || '/' || outcome AS k, count(*) AS n FROM trellis.attempt_history GROUP BY 1"
                ).rows.map { (try $0.decode("k", as: String.self), try $0.decode("n", as: Int.self)) }
                #expect(Dictionary(uniqueKeysWithValues: counted) == byOutcome)
                let busy = attempts.compactMap { attempt in attempt.1.finishMS.map { $0 - attempt.1.startMS } }.reduce(0, +)
                let measured = try await conn.query("SELECT sum(duration_ms)::bigint AS ms FROM trellis.attempt_history").single()
                #expect(try measured.decode("ms", as: Int64.self) == busy)
            }
        }
    }

    /// percentile_cont over sorted values.
    static func percentile(_ sorted: [Double], _ p: Double) -> Double {
        let position = Double(sorted.count - 1) * p
        let lower = Int(position.rounded(.down))
        let upper = min(lower + 1, sorted.count - 1)
        return sorted[lower] + (position - Double(lower)) * (sorted[upper] - sorted[lower])
    }

    static func rounded(_ value: Decimal, _ places: Int) -> Decimal {
        var input = value
        var output = Decimal()
        NSDecimalRound(&output, &input, places, .plain)
        return output
    }

    @Test func workflowStatsOverAWindow() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let fixture = try await HistoryFixture.load(conn, runs: Self.runs, seed: 11)
                let from = 10 * HistoryFixture.day, to = 20 * HistoryFixture.day
                let rows = try await conn.query(
                    "SELECT * FROM trellis.workflow_stats($1::timestamptz, $2::timestamptz)",
                    [HistoryFixture.timestamp(from), HistoryFixture.timestamp(to)]).rows
                let inWindow = fixture.runs.filter { $0.createdMS >= from && $0.createdMS < to }
                let groups = Dictionary(grouping: inWindow) { "\($0.workflow) v\($0.version)" }
                #expect(rows.count == groups.count)
                for row in rows {
                    let key = "\(try row.decode("workflow", as: String.self)) v\(try row.decode("version", as: Int.self))"
                    let runs = try #require(groups[key], "\(key)")
                    let finished = runs.filter { $0.durationMS != nil }
                    let succeeded = runs.filter { $0.status == "succeeded" }.count
                    #expect(try row.decode("runs", as: Int.self) == runs.count)
                    #expect(try row.decode("succeeded", as: Int.self) == succeeded)
                    #expect(try row.decode("failed", as: Int.self) == runs.filter { $0.status == "failed" }.count)
                    #expect(try row.decode("cancelled", as: Int.self) == runs.filter { $0.status == "cancelled" }.count)
                    #expect(try row.decode("unfinished", as: Int.self) == runs.count - finished.count)
                    #expect(try decimal(row, "success_rate") == Self.rounded(Decimal(succeeded) / Decimal(finished.count), 4))
                    let durations = finished.map { Double($0.durationMS!) }.sorted()
                    for (column, p) in [("p50_ms", 0.5), ("p95_ms", 0.95), ("p99_ms", 0.99)] {
                        let measured = try #require(try row.decodeIfPresent(column, as: Double.self))
                        #expect(abs(measured - Self.percentile(durations, p)) <= 0.051, "\(key) \(column)")
                    }
                    let total = runs.reduce(Decimal(0)) { $0 + $1.total_cost }
                    #expect(try decimal(row, "total_cost") == total)
                    #expect(try decimal(row, "mean_cost") == Self.rounded(total / Decimal(runs.count), 6))
                    let failures = Dictionary(grouping: runs.compactMap(\.failed_node)) { $0 }.mapValues(\.count)
                    let worst = failures.max { $0.value == $1.value ? $0.key > $1.key : $0.value < $1.value }
                    #expect(try row.decodeIfPresent("most_failing_node", as: String.self) == worst?.key, "\(key)")
                    #expect(try row.decodeIfPresent("most_failing_node_failures", as: Int.self) == worst?.value)
                }
            }
        }
    }

    @Test func approvalAndSchedulerFigures() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let fixture = try await HistoryFixture.load(conn, runs: 1200, seed: 5)
                let rows = try await conn.query("SELECT * FROM trellis.approval_history").rows
                #expect(rows.count == fixture.approvals.count)
                let expected = Dictionary(uniqueKeysWithValues: fixture.approvals.map { ($0.id, $0) })
                for row in rows {
                    let approval = try #require(expected[try row.decode("approval_id", as: UUID.self)])
                    #expect(try row.decode("status", as: String.self) == approval.status)
                    #expect(try row.decode("approvals", as: Int.self) == approval.votes.filter { $0.decision == "approve" }.count)
                    #expect(try row.decode("rejections", as: Int.self) == approval.votes.filter { $0.decision == "reject" }.count)
                    #expect(try row.decodeIfPresent("decided_by", as: String.self) == approval.decider)
                    #expect(try row.decode("expired", as: Bool.self) == (approval.status == "expired"))
                    if let waited = approval.waitedMS {
                        #expect(try row.decode("waited_ms", as: Int64.self) == waited)
                    }
                    let votes = try row.decode("votes", as: PGJSON.self).decode([[String: String]].self)
                    #expect(votes.map { $0["principal"] } == approval.votes.map(\.principal))
                }
                #expect(Set(fixture.approvals.map(\.status)) == ["approved", "rejected", "expired", "pending"])

                let attempts = fixture.runs.flatMap { $0.nodes.flatMap(\.attempts) }
                for scheduler in fixture.schedulers {
                    let mine = attempts.filter { $0.scheduler_id == scheduler.id }
                    let row = try await conn.query("SELECT * FROM trellis.scheduler_stats WHERE scheduler_id = $1", [scheduler.id]).single()
                    #expect(try row.decode("name", as: String.self) == scheduler.name)
                    #expect(try row.decode("attempts", as: Int.self) == mine.count)
                    for outcome in ["succeeded", "failed", "timed_out", "lost", "cancelled", "running"] {
                        #expect(try row.decode(outcome, as: Int.self) == mine.filter { $0.outcome == outcome }.count, "\(outcome)")
                    }
                    #expect(try row.decode("busy_ms", as: Int64.self) == mine.compactMap { a in a.finishMS.map { $0 - a.startMS } }.reduce(0, +))
                    #expect(try decimal(row, "cost") == mine.reduce(Decimal(0)) { $0 + $1.cost })
                    #expect(try row.decode("alive", as: Bool.self) == true)
                }
            }
        }
    }

    /// Every documented analyst question runs, and has an index path over the large
    /// tables: with sequential scans priced out, no plan still needs one (a missing index
    /// would leave "Seq Scan on node_runs" in the plan whatever the settings). Plans and
    /// timings at 1M node runs with the planner's own choices: docs/history.md.
    @Test func documentedQueriesRunAndHaveIndexPaths() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await HistoryFixture.load(conn, runs: 300)
                let questions = HistoryBench.questions
                #expect(questions.count == 10)
                for question in questions {
                    _ = try await conn.query(question.sql)
                    try await conn.withTransaction { tx in
                        try await tx.execute(script: "SET LOCAL enable_seqscan = off")
                        let plan = try await tx.query("EXPLAIN " + question.sql).rows
                            .map { try $0.decode("QUERY PLAN", as: String.self) }.joined(separator: "\n")
                        let summary = HistoryBench.summarize(plan: plan)
                        #expect(summary.largeSeqScans.isEmpty, "\(question.name): \(plan)")
                        if !question.sql.contains("trellis.workflow_stats(") {
                            #expect(!summary.indexes.isEmpty, "\(question.name): \(plan)")
                        }
                    }
                }
            }
        }
    }
}
