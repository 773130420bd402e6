import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// `trellis scheduler --metrics-port`: a real scheduler process, scraped while it runs.
@Suite("trellis scheduler --metrics-port (binary)")
struct SchedulerEndpointTests {
    private func get(_ url: String) async throws -> (status: Int, body: String) {
        try await withDeadline(.seconds(60), "GET \(url)") {
            let (data, response) = try await URLSession.shared.data(from: URL(string: url)!)
            return ((response as! HTTPURLResponse).statusCode, String(decoding: data, as: UTF8.self))
        }
    }

    /// The value of one sample line (`name{labels} value`) of a Prometheus text exposition.
    @Test func countersMoveByTheNodesRunAndReadinessFollowsTheDatabase() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "scraped", "nodes": [
                      {"key": "a", "kind": "tool_call", "handler": "echo"},
                      {"key": "b", "kind": "tool_call", "handler": "fail", "on_error": "continue"}],
                     "edges": [{"from": "a", "to": "b"}]}
                    """, as: "admin")
                let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "scraped", "--metrics-port", "0", "--database-url", db.url])
                var base = ""
                try await waitUntil(timeout: .seconds(30), "the metrics endpoint to start") {
                    guard let range = scheduler.output.range(of: #"http://127\.0\.0\.1:\d+"#, options: .regularExpression) else { return false }
                    base = String(scheduler.output[range])
                    return true
                }
                try await waitUntil(timeout: .seconds(30), "the scheduler to be ready") { try await get(base + "/readyz").status == 200 }
                #expect(try await get(base + "/healthz") == (200, #"{"status": "ok"}"#))
                let before = try await get(base + "/metrics").body
                #expect(prometheusSample(before, #"trellis_scheduler_nodes_total{outcome="succeeded"}"#) == 0)

                _ = try await RunStore(connection: conn).start("scraped", inputs: Array(repeating: "{}", count: 20), as: "admin")
                try await waitUntil(timeout: .seconds(60), "20 runs to finish") {
                    try await conn.query("SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL").single().decode("n", as: Int.self) == 0
                }
                // Scraped during the process's life: 20 echo successes, 20 failures, 40 nodes claimed.
                let after = try await get(base + "/metrics").body
                #expect(prometheusSample(after, #"trellis_scheduler_nodes_total{outcome="succeeded"}"#) == 20, "\(after)")
                #expect(prometheusSample(after, #"trellis_scheduler_nodes_total{outcome="failed"}"#) == 20)
                #expect(prometheusSample(after, "trellis_scheduler_claimed_nodes_total") == 40)
                #expect(prometheusSample(after, "trellis_scheduler_ready_lag_seconds_count") == 40)
                #expect(prometheusSample(after, #"trellis_scheduler_handler_duration_seconds_count{handler="echo"}"#) == 20)
                #expect(prometheusSample(after, #"trellis_scheduler_handler_duration_seconds_count{handler="fail"}"#) == 20)
                #expect((prometheusSample(after, "trellis_scheduler_database_round_trip_seconds_count") ?? 0) >= 2)

                // The main backends of both lanes (scraped/1, scraped/2) terminated: not ready
                // until both have reconnected, then ready again.
                try await conn.query("""
                    SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name LIKE 'trellis-scheduler scraped/_' AND datname = current_database()
                    """)
                try await waitUntil(timeout: .seconds(30), "both lanes to reconnect") {
                    (prometheusSample(try await get(base + "/metrics").body, "trellis_scheduler_reconnects_total") ?? 0) >= 2
                }
                #expect(try await get(base + "/readyz").status == 200)
                #expect(scheduler.stop() == 0, "\(scheduler.log)")
            }
        }
    }
}

/// `trellis scheduler --log-format json`: every line an object; node lines carry the node.
@Suite("trellis scheduler --log-format (binary)")
struct SchedulerLogFormatTests {
    @Test func jsonLinesCarryTheNodeTheyAreAbout() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "logged", "nodes": [{"key": "work", "kind": "tool_call", "handler": "echo", "input": {"blob": "$input.blob"}}]}
                    """, as: "admin")
                let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "logger", "--log-format", "json",
                                                                "--max-output-bytes", "64", "--max-stored-output-bytes", "0", "--database-url", db.url])
                let run = try await RunStore(connection: conn).start("logged", input: #"{"blob": "\#(String(repeating: "x", count: 200))"}"#, as: "admin").runID
                try await waitUntil(timeout: .seconds(30), "the run to finish") { try await RunStore(connection: conn).run(run).finishedAt != nil }
                #expect(scheduler.stop() == 0)
                let lines = scheduler.log.split(separator: "\n").map(String.init)
                #expect(lines.count >= 3, "\(scheduler.log)")
                var nodeLines: [[String: String]] = []
                for line in lines {
                    let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String]
                    #expect(object != nil, "not a JSON object of strings: \(line)")
                    guard let object else { continue }
                    #expect(object["ts"] != nil && object["level"] != nil && object["message"] != nil && (object["scheduler"] == "logger/1" || object["scheduler"] == "logger/2"), "\(line)")
                    if object["node_key"] != nil { nodeLines.append(object) }
                }
                #expect(nodeLines.count == 1, "\(scheduler.log)")
                #expect(nodeLines.first?["run_id"] == run.uuidString.lowercased())
                #expect(nodeLines.first?["node_key"] == "work" && nodeLines.first?["attempt"] == "1")
                #expect(nodeLines.first?["message"]?.contains("output_too_large") == true || nodeLines.first?["message"]?.contains("bytes") == true,
                        "\(nodeLines)")
            }
        }
    }
}

/// `trellis scheduler --llm-config`: a file that cannot be used stops the start with one
/// readable line naming the problem.
@Suite("trellis scheduler --llm-config (binary)")
struct SchedulerLLMConfigTests {
    @Test func anUnusableConfigurationIsOneReadableLine() async throws {
        try await TestDatabase.withMigrated { db in
            let directory = FileManager.default.temporaryDirectory.appending(path: "llm-config-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: directory) }
            let cases: [(String?, String)] = [
                (nil, "cannot read the LLM configuration"),
                ("credentials: {prod: {base_url: ftp://example.com}}", "credentials.prod.base_url must be an http(s) URL"),
                ("credentials: {prod: {base_url: \"https://example.com/v1\", api_key_env: TRELLIS_TEST_UNSET_KEY}}",
                 "environment variable TRELLIS_TEST_UNSET_KEY is not set"),
            ]
            for (index, (contents, message)) in cases.enumerated() {
                let file = directory.appending(path: "llm-\(index).yaml")
                if let contents { try contents.write(to: file, atomically: true, encoding: .utf8) }
                let result = try TrellisBinary.run(["scheduler", "--llm-config", file.path, "--database-url", db.url])
                #expect(result.status == 1, "\(result.stderr)")
                let lines = result.stderr.split(separator: "\n")
                #expect(lines.count == 1 && lines[0].contains(message), "\(result.stderr)")
            }
        }
    }
}

/// SIGTERM while a scheduler is still starting (here: waiting for a database that is not
/// there) stops it gracefully, exit 0 — not by the signal's default action (143).
@Suite("trellis scheduler start-up stop (binary)")
struct SchedulerStartupStopTests {
    @Test func aSigtermDuringStartUpIsAGracefulStop() async throws {
        let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "early", "--database-url",
                                                        "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"])
        try await waitUntil(timeout: .seconds(30), "the scheduler to wait for its database") {
            scheduler.log.contains("database not reachable yet")
        }
        #expect(scheduler.stop(SIGTERM) == 0, "\(scheduler.log)")
    }
}
