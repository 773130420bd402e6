import Foundation
import Testing
import TrellisCore
import TrellisPQ
@testable import TrellisScheduler
import TrellisStore
import TrellisTestSupport

private func context(config: JSONValue, input: JSONValue = .object([:]), attempt: Int = 1) -> NodeContext {
    NodeContext(nodeRunID: 1, runID: UUID(), nodeKey: "n", attempt: attempt, input: input, config: config,
                idempotencyKey: "k", itemIndex: nil)
}

@Suite("Built-in handlers")
struct HandlerTests {
    @Test func echoAndSleepReportTheirConfiguredCost() async throws {
        let echoed = try await EchoHandler().run(context(config: .object(["cost": .number(0.0021)]), input: .object(["a": .number(1)])))
        #expect(echoed.output == .object(["a": .number(1)]))
        #expect(echoed.cost == Decimal(string: "0.0021"))
        #expect(try await EchoHandler().run(context(config: .object([:]))).cost == nil)
        let slept = try await SleepHandler().run(context(config: .object(["ms": .number(1), "cost": .string("1.5")])))
        #expect(slept.cost == Decimal(string: "1.5"))
    }

    @Test func sqlBindsParametersAndReturnsTypedRows() async throws {
        try await TestDatabase.withMigrated { db in
            let handler = SQLHandler(databaseURL: db.url)
            let hostile = "'; DROP TABLE trellis.workflows; --"
            let result = try await handler.run(context(
                config: .object(["query": .string("SELECT $1::text AS s, $2::int AS i, $3::jsonb AS j, true AS b, NULL::text AS n")]),
                input: .object(["params": .array([.string(hostile), .number(42), .object(["k": .string("v")])])])))
            #expect(result.output["row_count"] == .number(1))
            guard case .array(let rows)? = result.output["rows"] else { Issue.record("no rows"); return }
            #expect(rows.first == .object(["s": .string(hostile), "i": .number(42), "j": .object(["k": .string("v")]), "b": .bool(true), "n": .null]))

            // Domains are typed as their base types, a domain over a domain too: the server
            // describes a domain's column by its base type (the engine's own status and
            // counter columns are domains since migration 0027).
            _ = try await handler.run(context(config: .object(["query": .string("CREATE DOMAIN public.twice AS trellis.node_attempt")])))
            let typed = try await handler.run(context(config: .object([
                "query": .string("SELECT 3::trellis.node_attempt AS a, 'ready'::trellis.node_status AS s, 5::public.twice AS t")])))
            #expect(typed.output["rows"]?[0] == .object(["a": .number(3), "s": .string("ready"), "t": .number(5)]))

            let syntax = await #expect(throws: HandlerError.self) {
                try await handler.run(context(config: .object(["query": .string("SELEC 1")])))
            }
            #expect(syntax?.code == "sql_42601")
            #expect(syntax?.retryable == false)
            let missing = await #expect(throws: HandlerError.self) { try await handler.run(context(config: .object([:]))) }
            #expect(missing?.code == "invalid_config")
            // The hostile string was a value, never SQL.
            let tableSurvived = try await db.withConnection { conn in
                try await conn.query("SELECT to_regclass('trellis.workflows') IS NOT NULL AS ok").single().decode("ok", as: Bool.self)
            }
            #expect(tableSurvived)
        }
    }

    /// A shell node's program gets stdin, stdout and stderr only — none of the scheduler's
    /// sockets (libcurl's have no close-on-exec): a command that outlives a model stream
    /// would otherwise keep its connection open, and could write into it.
    @Test func shellProgramsInheritNoSchedulerDescriptors() async throws {
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let leaked = fcntl(probe, F_DUPFD, 250)
        close(probe)
        defer { close(leaked) }
        let listing = try await ShellHandler().run(context(config: .object(["argv": .array([.string("/bin/ls"), .string("/proc/self/fd")])])))
        let open = Set((listing.output["stdout"]?.stringValue ?? "").split(separator: "\n").compactMap { Int($0) })
        #expect(!open.isEmpty && !open.contains(Int(leaked)), "\(open.sorted())")
        #expect(open.isSubset(of: [0, 1, 2, 3]), "\(open.sorted())")
    }

    @Test func shellRunsArgvWithoutAShell() async throws {
        let handler = ShellHandler()
        let ok = try await handler.run(context(config: .object(["argv": .array([.string("/bin/echo"), .string("$HOME;")])]),
                                               input: .object(["args": .array([.string("&& rm -rf /")])])))
        #expect(ok.output["exit_code"] == .number(0))
        #expect(ok.output["stdout"] == .string("$HOME; && rm -rf /\n"))  // no interpolation

        let failing = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["argv": .array([.string("/bin/sh"), .string("-c"), .string("echo oops >&2; exit 3")])])))
        }
        #expect(failing?.code == "exit_3")
        #expect(failing?.message == "/bin/sh exited with 3: oops")

        let capped = try await handler.run(context(config: .object([
            "argv": .array([.string("/usr/bin/head"), .string("-c"), .string("5000"), .string("/dev/zero")]), "max_output_bytes": .number(100),
        ])))
        #expect(capped.output["truncated"] == .bool(true))
        #expect(capped.output["stdout"]?.stringValue?.utf8.count == 100)

        let missing = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["argv": .array([.string("/no/such/program")])])))
        }
        #expect(missing?.code == "exit_127" || missing?.code == "spawn_failed")

        // Cancellation kills the process: started (seen in /proc), cancelled, gone.
        let started = ContinuousClock.now
        let marker = "30.\(Int.random(in: 1000...9999))"
        func sleeping() -> Bool {
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
            return entries.contains { pid in
                guard pid.allSatisfy(\.isNumber), let line = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return false }
                return line.split(separator: 0).map { String(decoding: $0, as: UTF8.self) } == ["/bin/sleep", marker]
            }
        }
        let task = Task { try await handler.run(context(config: .object(["argv": .array([.string("/bin/sleep"), .string(marker)])]))) }
        try await waitUntil(timeout: .seconds(10), "the child process to start") { sleeping() }
        task.cancel()
        _ = await task.result
        #expect(!sleeping(), "the child was killed")
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    /// A node's timeout becomes its statement_timeout, cancellation cancels the statement
    /// on the server, and nothing a node sets on its session reaches the next node.
    @Test func sqlNodesAreIsolatedBoundedAndCancellable() async throws {
        try await TestDatabase.withMigrated { db in
            let handler = SQLHandler(databaseURL: db.url)
            func sql(_ query: String, timeout: Int? = nil, maxRows: Int? = nil) -> NodeContext {
                var config: [String: JSONValue] = ["query": .string(query)]
                if let maxRows { config["max_rows"] = .number(Double(maxRows)) }
                var node = context(config: .object(config))
                node.timeoutMilliseconds = timeout
                return node
            }
            // The session is reset after each node (one pooled connection serves both).
            _ = try await handler.run(sql("SELECT set_config('application_name', 'leaked', false) AS v"))
            _ = try await handler.run(sql("SET search_path TO pg_catalog"))
            let after = try await handler.run(sql("SELECT current_setting('application_name') AS a, current_setting('search_path') AS p"))
            #expect(after.output["rows"]?[0]?["a"] == .string("trellis-sql-handler"))
            #expect(after.output["rows"]?[0]?["p"] != .string("pg_catalog"))

            // Rows past max_rows are dropped while reading.
            let capped = try await handler.run(sql("SELECT g FROM generate_series(1, 5000) g", maxRows: 10))
            #expect(capped.output["truncated"] == .bool(true))
            guard case .array(let rows)? = capped.output["rows"] else { Issue.record("no rows"); return }
            #expect(rows.count == 10)
            let badCap = await #expect(throws: HandlerError.self) { try await handler.run(sql("SELECT 1", maxRows: 1_000_000)) }
            #expect(badCap?.code == "invalid_config")

            // The node's timeout is the statement's: a retryable timeout failure.
            let timedOut = await #expect(throws: HandlerError.self) { try await handler.run(sql("SELECT pg_sleep(30)", timeout: 200)) }
            #expect(timedOut?.code == "timeout")
            #expect(timedOut?.retryable == true)

            // Cancelling the task cancels the statement on the server at once.
            let started = ContinuousClock.now
            let task = Task { try await handler.run(sql("SELECT pg_sleep(60)")) }
            try await db.withConnection { conn in
                try await waitUntil(timeout: .seconds(10), "the statement to run") {
                    try await conn.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")
                        .single().decode("n", as: Int.self) == 1
                }
                task.cancel()
                let result = await task.result
                #expect(throws: CancellationError.self) { try result.get() }
                #expect(ContinuousClock.now - started < .seconds(20))
                try await waitUntil(timeout: .seconds(10), "the statement to stop on the server") {
                    try await conn.query("SELECT count(*) AS n FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(60)' AND state = 'active'")
                        .single().decode("n", as: Int.self) == 0
                }
            }
        }
    }

    /// Cancelling a shell node kills everything it started, not only the direct child.
    @Test func shellCancellationKillsTheWholeProcessGroup() async throws {
        let pidFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-grandchild-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: pidFile) }
        let task = Task {
            try await ShellHandler().run(context(config: .object(["argv": .array([
                .string("/bin/sh"), .string("-c"), .string("sleep 300 & echo $! > \"$0\"; wait"), .string(pidFile.path),
            ])])))
        }
        try await waitUntil(timeout: .seconds(10), "the grandchild to start") {
            ((try? String(contentsOf: pidFile, encoding: .utf8)) ?? "").hasSuffix("\n")
        }
        let grandchild = try #require(pid_t((try String(contentsOf: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        task.cancel()
        _ = await task.result
        try await waitUntil(timeout: .seconds(10), "the grandchild to be gone") {
            // Gone, or a zombie waiting for init to reap it.
            guard let stat = try? String(contentsOfFile: "/proc/\(grandchild)/stat", encoding: .utf8) else { return true }
            return stat.split(separator: ")").last?.split(separator: " ").first == "Z"
        }
    }

    @Test func configNumbersAreCheckedNotTrapped() async throws {
        let steps = await #expect(throws: HandlerError.self) {
            try await SleepHandler().run(context(config: .object(["ms": .number(1), "steps": .number(1e300)])))
        }
        #expect(steps?.code == "invalid_config")
        let times = await #expect(throws: HandlerError.self) { try await FailHandler().run(context(config: .object(["times": .number(.nan)]))) }
        #expect(times?.code == "invalid_config")
        let cap = await #expect(throws: HandlerError.self) {
            try await ShellHandler().run(context(config: .object(["argv": .array([.string("/bin/true")]), "max_output_bytes": .number(1e300)])))
        }
        #expect(cap?.code == "invalid_config")
    }

    /// `llm` and `a2a` name scheduler-side credentials; an unknown name, or an a2a node with
    /// neither a URL nor credentials, fails at once without a request or a retry.
    @Test func unknownCredentialsAreRefusedNamingTheKnownOnes() async throws {
        let configuration = LLMConfiguration(credentials: ["prod": .init(baseURL: URL(string: "http://127.0.0.1:9/v1")!, apiKey: "k")])
        let llm = await #expect(throws: HandlerError.self) {
            try await LLMHandler(configuration: configuration).run(context(config: .object([
                "credentials": .string("staging"), "model": .string("m")]), input: .object(["prompt": .string("hi")])))
        }
        #expect(llm?.code == "unknown_credentials" && llm?.retryable == false)
        #expect(llm?.message == #"llm: no credentials named "staging" in this scheduler's LLM configuration (known: prod)"#)
        let a2a = await #expect(throws: HandlerError.self) {
            try await A2AHandler().run(context(config: .object(["url": .string("http://127.0.0.1:9"), "credentials": .string("prod")]),
                                               input: .object(["text": .string("hi")])))
        }
        #expect(a2a?.code == "unknown_credentials" && a2a?.retryable == false)
        #expect(a2a?.message == #"a2a: no credentials named "prod" in this scheduler's configuration (known: none; start it with --llm-config FILE)"#)
        let nowhere = await #expect(throws: HandlerError.self) {
            try await A2AHandler(configuration: configuration).run(context(config: .object([:]), input: .object(["text": .string("hi")])))
        }
        #expect(nowhere?.code == "invalid_config" && nowhere?.retryable == false)
        // Credentials stand in for the URL and send their key as a bearer token.
        #expect(configuration.credentials["prod"]?.requestHeaders == ["Authorization": "Bearer k"])
    }

    @Test func shellIsRefusedUnlessAllowed() async throws {
        #expect(HandlerRegistry.standard(allowSQL: "x", allowShell: false).handler(named: "shell") == nil)
        #expect(HandlerRegistry.standard(allowShell: true).handler(named: "shell") != nil)
        #expect(HandlerRegistry.standard(allowShell: true).handler(named: "sql") == nil)
        #expect(HandlerRegistry.standard(allowSQL: "x").handler(named: "sql") != nil)
        try await TestDatabase.withMigrated { db in
            let refused = try TrellisBinary.run(["scheduler", "--handlers", "shell", "--database-url", db.url])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(#"no handler named "shell" is registered"#))
        }
    }
}

@Suite("http handler against a local server")
struct HTTPHandlerTests {
    @Test func successErrorsAndTimeouts() async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let handler = HTTPHandler()

        let ok = try await handler.run(context(config: .object(["url": .string(server.baseURL + "/ok"), "method": .string("POST")]),
                                               input: .object(["q": .string("graphs")])))
        #expect(ok.output["status"] == .number(200))
        #expect(ok.output["body"] == .object(["q": .string("graphs")]))
        #expect(server.requests.last?.headers["idempotency-key"] == "k")
        #expect(server.requests.last?.headers["content-type"] == "application/json")

        let serverError = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["url": .string(server.baseURL + "/status/503")])))
        }
        #expect(serverError?.code == "http_503")
        #expect(serverError?.retryable == true)
        let clientError = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["url": .string(server.baseURL + "/status/404")])))
        }
        #expect(clientError?.retryable == false)
        let badURL = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["url": .string("ftp://example.com")])))
        }
        #expect(badURL?.code == "invalid_config")
        let refused = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["url": .string("http://127.0.0.1:1/")])))
        }
        #expect(refused?.code == "http_unreachable")
        #expect(refused?.retryable == true)
    }

    @Test func aResponseOverTheCapIsStoppedWhileReading() async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        let handler = HTTPHandler()
        let small = try await handler.run(context(config: .object(["url": .string("\(server.baseURL)/big/50"), "max_response_bytes": .number(100)])))
        #expect(small.output["body"] == .string(String(repeating: "b", count: 50)))
        let big = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["url": .string("\(server.baseURL)/big/300000"), "max_response_bytes": .number(1000)])))
        }
        #expect(big?.code == "response_too_large")
        #expect(big?.retryable == false)
        let bad = await #expect(throws: HandlerError.self) {
            try await handler.run(context(config: .object(["url": .string("\(server.baseURL)/ok"), "max_response_bytes": .number(1e300)])))
        }
        #expect(bad?.code == "invalid_config")
    }

    @Test func a500IsRetriedAndASlowCallTimesOutThroughTheScheduler() async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let definition = """
                    {"name": "calls", "nodes": [
                      {"key": "flaky", "kind": "tool_call", "handler": "http", "config": {"url": "\(server.baseURL)/status/500"},
                       "retry": {"max_attempts": 2, "initial_delay": 0}, "on_error": "continue"},
                      {"key": "slow", "kind": "tool_call", "handler": "http", "config": {"url": "\(server.baseURL)/slow"},
                       "timeout": "300ms", "on_error": "continue"},
                      {"key": "fine", "kind": "tool_call", "handler": "http", "config": {"url": "\(server.baseURL)/ok"}}]}
                    """
                _ = try await WorkflowStore(connection: conn).publish(definition: definition, as: "admin")
                let run = try await RunStore(connection: conn).start("calls", as: "admin").runID
                var options = SchedulerOptions(name: "http-test")
                options.pollInterval = .milliseconds(50)
                let scheduler = Scheduler(databaseURL: db.url, registry: .standard(), options: options)
                let running = Task { try await scheduler.run() }
                try await waitUntil(timeout: .seconds(60), "the run to finish") {
                    try await RunStore(connection: conn).run(run).finishedAt != nil
                }
                scheduler.requestStop()
                _ = try await running.value
                let attempts = try await conn.query("""
                    SELECT n.node_key || ':' || a.outcome || ':' || coalesce(a.error ->> 'code', '-') AS o
                    FROM trellis.node_attempts a JOIN trellis.node_runs n ON n.id = a.node_run_id ORDER BY n.node_key, a.attempt
                    """).rows.map { try $0.decode("o", as: String.self) }
                #expect(attempts == ["fine:succeeded:-", "flaky:failed:http_500", "flaky:failed:http_500", "slow:timed_out:timeout"])
                #expect(server.requests.filter { $0.path == "/status/500" }.count == 2)
            }
        }
    }
}
