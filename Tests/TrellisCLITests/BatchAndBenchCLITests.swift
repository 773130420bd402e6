import Foundation
import Testing
import TrellisPQ
import TrellisTestSupport

/// `trellis run start --input-file` (JSON lines, all or nothing) and `trellis bench` (every
/// workload, small, with its exactly-once check), through the built binary.
@Suite("trellis run start --input-file, trellis bench (binary)")
struct BatchAndBenchCLITests {
    private func runs(_ db: TestDatabase) async throws -> Int {
        try await db.withConnection { try await $0.query("SELECT count(*) AS n FROM trellis.workflow_runs").single().decode("n", as: Int.self) }
    }

    @Test func jsonLinesStartEveryRunOrNone() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            let definition = try temporaryFile("one.json", #"{"name": "one", "nodes": [{"key": "work", "kind": "tool_call", "handler": "echo"}]}"#)
            #expect(try TrellisBinary.run(["workflow", "publish", definition] + url).status == 0)

            let lines = (0..<12_345).map { #"{"i": \#($0)}"# }.joined(separator: "\n") + "\n\n"
            let good = try TrellisBinary.run(["run", "start", "one", "--input-file", try temporaryFile("runs.jsonl", lines)] + url)
            #expect(good.status == 0, "\(good.stderr)")
            #expect(good.stdout.hasPrefix("started 12345 runs of one in "), "\(good.stdout)")
            #expect(try await runs(db) == 12_345)
            let ids = try TrellisBinary.run(["run", "start", "one", "--input-file", try temporaryFile("two.jsonl", "{}\n{\"x\": 1}\n"), "--ids"] + url)
            #expect(ids.stdout.split(separator: "\n").count == 2 && ids.stdout.split(separator: "\n").allSatisfy { UUID(uuidString: String($0)) != nil })

            // A bad line is named and nothing starts — also when it is in a later chunk.
            let refusals: [(String, String)] = [
                ("{}\n{\"a\": \n{}\n", "line 2: not valid JSON"),
                ("{}\n\n[1, 2]\n", "line 3: a run input must be a JSON object"),
                ((0..<10_500).map { _ in "{}" }.joined(separator: "\n") + "\n{\"big\": \"\(String(repeating: "x", count: 6_000_000))\"}\n",
                 "line 10501: run input is"),
                ("\n\n", "has no input lines"),
            ]
            for (contents, says) in refusals {
                let refused = try TrellisBinary.run(["run", "start", "one", "--input-file", try temporaryFile("bad.jsonl", contents)] + url)
                #expect(refused.status == 1)
                #expect(refused.stderr.contains(says), "\(refused.stderr.prefix(300))")
                #expect(refused.stderr.split(separator: "\n").count == 1, "one readable line: \(refused.stderr.prefix(300))")
            }
            let mixed = try TrellisBinary.run(["run", "start", "one", "--input-file", "x.jsonl", "--idempotency-key", "k"] + url)
            #expect(mixed.status != 0 && mixed.stderr.contains("--idempotency-key"))
            #expect(try await runs(db) == 12_347)
        }
    }

    @Test func benchRunsEveryWorkloadAndChecksExactlyOnce() async throws {
        try await TestDatabase.withMigrated { db in
            let bench = try TrellisBinary.run([
                "bench", "--json", "--runs", "60", "--dag-runs", "5", "--serial-runs", "3", "--start-runs", "50", "--single-starts", "10",
                "--pickups", "5", "--fanout-runs", "4", "--width", "3", "--one-run-width", "5", "--commit-clients", "2", "--commits-per-client", "20",
                "--one-client-commits", "20",
                "--schedulers", "2", "--database-url", db.url,
            ])
            #expect(bench.status == 0, "\(bench.stderr.suffix(1_000))")
            let report = try JSONSerialization.jsonObject(with: Data(bench.stdout.utf8)) as? [String: Any]
            let workloads = report?["workloads"] as? [[String: Any]] ?? []
            #expect(workloads.compactMap { $0["name"] as? String } == ["flat", "dag", "start", "pickup", "fanout"])
            for workload in workloads {
                let figures = workload["figures"] as? [[String: Any]] ?? []
                #expect(!figures.isEmpty && figures.allSatisfy { ($0["value"] as? Double ?? -1) > 0 }, "\(workload)")
                // The drains and the DAG burst say how much WAL a node wrote (a run of nodes writes some).
                if ["flat", "dag", "fanout"].contains(workload["name"] as? String) {
                    let wal = figures.first { ($0["label"] as? String)?.hasPrefix("WAL per node") == true }
                    #expect(wal?["unit"] as? String == "bytes" && (wal?["value"] as? Double ?? 0) > 500, "\(workload)")
                }
                // The drains say what CPU a node cost the database (the harness's own cluster
                // runs on this host, so /proc has it) and the scheduler processes.
                if ["flat", "fanout"].contains(workload["name"] as? String),
                   ProcessInfo.processInfo.environment["TRELLIS_TEST_DATABASE_URL"] == nil {
                    for label in ["database CPU per node, start to finish", "scheduler CPU per node"] {
                        let cpu = figures.first { $0["label"] as? String == label }
                        #expect(cpu?["unit"] as? String == "µs", "\(label): \(workload)")
                    }
                }
                if workload["name"] as? String != "start" {
                    let once = workload["exactlyOnce"] as? [String: Any]
                    #expect(once?["nodesNotOnce"] as? Int == 0 && once?["runsNotSucceeded"] as? Int == 0, "\(workload)")
                }
            }
            // The fan-out within one run, drained alone after the many, is a figure of its own.
            let fanout = workloads.first { $0["name"] as? String == "fanout" }
            let oneRun = (fanout?["figures"] as? [[String: Any]] ?? []).first { $0["label"] as? String == "one run of 5 leaves: drain" }
            #expect(oneRun?["unit"] as? String == "nodes/s" && (oneRun?["value"] as? Double ?? 0) > 0, "\(fanout ?? [:])")
            #expect((fanout?["exactlyOnce"] as? [String: Any])?["runs"] as? Int == 5, "\(fanout ?? [:])")
            let rate = report?["commitRate"] as? [String: Any]
            #expect((rate?["before"] as? Double ?? 0) > 0 && (rate?["after"] as? Double ?? 0) > 0)
            // One client's commit rate is the baseline of what goes one call at a time: the
            // one-call-per-run start is read against it, and every latency in its commit times.
            #expect((rate?["oneClientBefore"] as? Double ?? 0) > 0 && (rate?["oneClientAfter"] as? Double ?? 0) > 0, "\(rate ?? [:])")
            let figures = workloads.flatMap { $0["figures"] as? [[String: Any]] ?? [] }
            let oneCall = figures.first { $0["label"] as? String == "one call per run" }
            #expect(oneCall?["oneClient"] as? Bool == true && (oneCall?["againstOneClientCommit"] as? Double ?? 0) > 0, "\(oneCall ?? [:])")
            let latencies = figures.filter { ["one at a time p50", "one at a time p99", "p50", "p99"].contains($0["label"] as? String) }
            #expect(latencies.count == 4 && latencies.allSatisfy { ($0["againstOneClientCommit"] as? Double ?? 0) > 0 }, "\(latencies)")
            // A burst's latencies are queueing, not one thing at a time: not read against one client.
            #expect(figures.filter { $0["againstOneClientCommit"] != nil }.count == 5, "\(figures)")
            // The database agrees: 60 flat + 8 dag + 5 pickup + 4 + 1 fan-out runs succeeded, the start
            // workload's runs were discarded, no scheduler is left registered, the baseline table is gone.
            let counts = try await db.withConnection { conn -> [Int] in
                var counts: [Int] = []
                for sql in ["SELECT count(*) AS n FROM trellis.workflow_runs WHERE status = 'succeeded'",
                            "SELECT count(*) AS n FROM trellis.workflow_runs WHERE status <> 'succeeded'",
                            "SELECT count(*) AS n FROM trellis.schedulers WHERE stopped_at IS NULL",
                            "SELECT count(*) AS n FROM pg_namespace WHERE nspname = 'trellis_bench'",
                            // The wide workflow every workload ran beside (never run): 1,000 nodes.
                            """
                            SELECT count(*) AS n FROM trellis.workflow_nodes wn JOIN trellis.workflow_versions v ON v.id = wn.version_id
                            JOIN trellis.workflows w ON w.id = v.workflow_id WHERE w.name LIKE 'bench-fanout-wide-%'
                            """] {
                    counts.append(try await conn.query(sql).single().decode("n", as: Int.self))
                }
                return counts
            }
            #expect(counts == [78, 0, 0, 0, 1_000])
            let unknown = try TrellisBinary.run(["bench", "teleport", "--database-url", db.url])
            #expect(unknown.status != 0 && unknown.stderr.contains("unknown workload \"teleport\""))
        }
    }
}
