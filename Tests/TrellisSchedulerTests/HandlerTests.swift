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

            let syntax = await #expect(throws: HandlerError.self) {
                try await handler.run(context(config: .object(["query": .string("SELEC 1")])))
            }
            #expect(syntax?.code == "sql_42601")
            #expect(syntax?.retryable == false)
            let missing = await #expect(throws: HandlerError.self) { try await handler.run(context(config: .object([:]))) }
            #expect(missing?.code == "bad_config")
            // The hostile string was a value, never SQL.
            let tableSurvived = try await db.withConnection { conn in
                try await conn.query("SELECT to_regclass('trellis.workflows') IS NOT NULL AS ok").single().decode("ok", as: Bool.self)
            }
            #expect(tableSurvived)
        }
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

        // Cancellation kills the process.
        let started = ContinuousClock.now
        let task = Task { try await handler.run(context(config: .object(["argv": .array([.string("/bin/sleep"), .string("30")])]))) }
        try await Task.sleep(for: .milliseconds(200))
        task.cancel()
        _ = await task.result
        #expect(ContinuousClock.now - started < .seconds(10))
    }

    @Test func shellIsRefusedUnlessAllowed() async throws {
        #expect(HandlerRegistry.standard(databaseURL: "x", allowShell: false).handler(named: "shell") == nil)
        #expect(HandlerRegistry.standard(databaseURL: "x", allowShell: true).handler(named: "shell") != nil)
        try await TestDatabase.withMigrated { db in
            let refused = try TrellisBinary.run(["scheduler", "--handlers", "shell", "--database-url", db.url])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(#"no handler named "shell" is registered"#))
        }
    }
}
