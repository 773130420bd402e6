import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// End-to-end: `trellis run …` with a real scheduler process.
@Suite("trellis run (binary)")
struct RunCLITests {
    @Test func startWaitShowListAndControl() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
            }
            let url = ["--database-url", db.url]
            let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "cli", "--poll-interval", "100"] + url)

            let started = try TrellisBinary.run(["run", "start", "condition-branch", "--input", #"{"order": "B-2", "score": 12}"#, "--wait"] + url)
            #expect(started.status == 0, "\(started.stderr)")
            #expect(started.stdout.contains("condition-branch v1  succeeded"))
            #expect(started.stdout.contains("ship           tool_call  succeeded  1"))
            #expect(started.stdout.contains("manual_review  tool_call  skipped    0"))
            let id = try #require(started.stdout.split(separator: "\n").first?.split(separator: " ").dropFirst(2).first.map(String.init))

            let followed = try TrellisBinary.run(["run", "start", "linear-pipeline", "--input", #"{"record": 5}"#, "--follow"] + url)
            #expect(followed.status == 0, "\(followed.stderr)")
            let lines = followed.stdout.split(separator: "\n").map(String.init)
            #expect(lines.contains { $0.contains("#1    run.queued") })
            #expect(lines.contains { $0.contains("node.started        extract  attempt 1  on cli") })
            #expect(lines.contains { $0.contains("run.finished        succeeded") })
            #expect(lines.contains { $0.hasPrefix("run ") && $0.hasSuffix("linear-pipeline v1  succeeded") })

            let show = try TrellisBinary.run(["run", "show", id] + url)
            #expect(show.stdout.hasPrefix("run \(id)  condition-branch v1  succeeded"))
            let list = try TrellisBinary.run(["run", "list", "--workflow", "condition-branch"] + url)
            #expect(list.stdout.contains("\(id)  condition-branch  v1       succeeded  admin"))

            let cancelFinished = try TrellisBinary.run(["run", "cancel", id] + url)
            #expect(cancelFinished.status == 1)
            #expect(cancelFinished.stderr.contains("cannot cancel run \(id): it already succeeded (SQLSTATE TR409)"))

            // Retry: a succeeded run only with --all; the new run is linked and runs to the end.
            let notFailed = try TrellisBinary.run(["run", "retry", id] + url)
            #expect(notFailed.status == 1)
            #expect(notFailed.stderr.contains("it succeeded (use mode all to run it again) (SQLSTATE TR409)"), "\(notFailed.stderr)")
            let retried = try TrellisBinary.run(["run", "retry", id, "--all"] + url)
            #expect(retried.status == 0, "\(retried.stderr)")
            #expect(retried.stderr.contains("retry of \(id), 0 node(s) kept"), "\(retried.stderr)")
            let newID = retried.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(UUID(uuidString: newID) != nil, "\(retried.stdout)")
            let events = try TrellisBinary.run(["run", "events", newID, "--follow"] + url)
            #expect(events.stdout.contains("run.finished        succeeded"), "\(events.stdout)")
            let shown = try TrellisBinary.run(["run", "show", newID] + url)
            #expect(shown.stdout.hasPrefix("run \(newID)  condition-branch v1  succeeded"), "\(shown.stdout)")

            let again = try TrellisBinary.run(["run", "start", "condition-branch", "--idempotency-key", "k", "--input", #"{"score": 1}"#] + url)
            let same = try TrellisBinary.run(["run", "start", "condition-branch", "--idempotency-key", "k", "--input", #"{"score": 1}"#] + url)
            #expect(same.stdout.hasPrefix("existing run "))
            #expect(again.stdout.split(separator: " ")[2] == same.stdout.split(separator: " ")[2])

            let badInput = try TrellisBinary.run(["run", "start", "condition-branch", "--input", "{nope"] + url)
            #expect(badInput.status == 1)
            #expect(badInput.stderr.hasPrefix("Error: --input is not valid JSON"))
            let badID = try TrellisBinary.run(["run", "show", "42"] + url)
            #expect(badID.stderr == "Error: \"42\" is not a run id (a UUID)\n")
            let unknownWorkflow = try TrellisBinary.run(["run", "start", "nope"] + url)
            #expect(unknownWorkflow.stderr.contains(#"unknown workflow "nope" (SQLSTATE TR404)"#))

            #expect(scheduler.stop() == 0, "\(scheduler.log)")
            #expect(scheduler.log.contains("scheduler cli/1 stopped:") && scheduler.log.contains("scheduler cli/2 stopped:"))
        }
    }
}

@Suite("trellis approval (binary)")
struct ApprovalCLITests {
    @Test func gatedRunStartedByOnePrincipalApprovedByAnother() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
            }
            let url = ["--database-url", db.url]
            for name in ["requester", "reviewer"] {
                #expect(try TrellisBinary.run(["principal", "create", name] + url).status == 0)
            }
            #expect(try TrellisBinary.run(["grant", "run", "human-approval", "requester"] + url).status == 0)
            #expect(try TrellisBinary.run(["grant", "approve", "human-approval", "requester"] + url).status == 0)
            #expect(try TrellisBinary.run(["grant", "approve", "human-approval", "reviewer"] + url).status == 0)
            let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "gate", "--poll-interval", "100"] + url)

            let started = try TrellisBinary.run(["run", "start", "human-approval", "--input", #"{"version": "1.2", "notes": "fixes"}"#, "--as", "requester"] + url)
            #expect(started.status == 0, "\(started.stderr)")
            let run = try #require(started.stdout.split(separator: " ").dropFirst(2).first.map(String.init))
            var approval = ""
            try await waitUntil(timeout: .seconds(30), "the approval to open") {
                let list = try TrellisBinary.run(["approval", "list", "--run", run] + url)
                guard let row = list.stdout.split(separator: "\n").dropFirst().first else { return false }
                approval = String(row.split(separator: " ")[0])
                return row.contains("human-approval  review  gate  pending  0/1")
            }
            // `answer` is for questions a node asked, not for gates.
            let answered = try TrellisBinary.run(["approval", "answer", approval, "yes", "--as", "reviewer"] + url)
            #expect(answered.status == 1)
            #expect(answered.stderr == "Error: approval \(approval) is a human gate, not a question: use approve or reject\n", "\(answered.stderr)")
            let own = try TrellisBinary.run(["approval", "approve", approval, "--as", "requester"] + url)
            #expect(own.status == 1)
            #expect(own.stderr.contains(#"principal "requester" started run"#))
            let approved = try TrellisBinary.run(["approval", "approve", approval, "--as", "reviewer", "--comment", "ship it"] + url)
            #expect(approved.stdout == "approval \(approval) approved by reviewer\n", "\(approved.stderr)")
            try await waitUntil(timeout: .seconds(30), "the run to finish") {
                try TrellisBinary.run(["run", "show", run] + url).stdout.contains("human-approval v1  succeeded")
            }
            let twice = try TrellisBinary.run(["approval", "reject", approval, "--as", "reviewer"] + url)
            #expect(twice.status == 1)
            #expect(twice.stderr.contains("is already approved (SQLSTATE TR409)"))
            #expect(scheduler.stop() == 0)
        }
    }

    /// A question a node asked (an approval of kind input), answered from the CLI.
    @Test func aQuestionIsListedAndAnswered() async throws {
        try await TestDatabase.withMigrated { db in
            let (run, approval) = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "asking", "nodes": [{"key": "ask", "kind": "agent_call", "handler": "echo"}]}"#, as: "admin")
                let driver = try await Driver.make(conn)
                let run = try await driver.store.start("asking", as: "admin").runID
                let claim = try #require(try await driver.claim().first)
                _ = try await driver.scheduling.fail(scheduler: driver.scheduler, [.init(
                    id: claim.nodeRunID, attempt: claim.attempt, error: .init(code: "input_required", message: "Which colour?"),
                    retryable: false, inputRequest: .init(prompt: "Which colour?", resume: .object([:])))])
                return (run, try #require(try await ApprovalStore(connection: conn).list(run: run).first).id.uuidString.lowercased())
            }
            let url = ["--database-url", db.url]
            let list = try TrellisBinary.run(["approval", "list"] + url)
            #expect(list.stdout.contains("asking    ask   input  pending  0/1"), "\(list.stdout)")
            #expect(list.stdout.contains("Which colour?"))
            let answered = try TrellisBinary.run(["approval", "answer", approval, "blue"] + url)
            #expect(answered.stdout == "approval \(approval) answered by admin\n", "\(answered.stderr)")
            let resume = try await db.withConnection { conn in
                try await conn.query("SELECT status, resume ->> 'answer' AS answer FROM trellis.node_runs WHERE run_id = $1::uuid", [run]).single()
            }
            #expect(try resume.decode("status", as: String.self) == "ready" && resume.decode("answer", as: String.self) == "blue")
            let unknown = try TrellisBinary.run(["approval", "answer", UUID().uuidString.lowercased(), "x"] + url)
            #expect(unknown.status == 1 && unknown.stderr.hasPrefix("Error: unknown approval "), "\(unknown.stderr)")
        }
    }

    @Test func eventsPrintsTheLogAndFollowsARunToItsEnd() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { _ = try await Seeder(connection: $0).load(as: "admin") }
            let url = ["--database-url", db.url]
            let started = try TrellisBinary.run(["run", "start", "fan-out-fan-in", "--input", #"{"topic": "x"}"#] + url)
            let id = try #require(started.stdout.split(separator: " ").dropFirst(2).first.map(String.init))
            // Follow a run nobody works on yet; a scheduler starts afterwards.
            let follower = try BackgroundProcess(trellis: ["run", "events", id, "--follow", "--json"] + url)
            try await waitUntil(timeout: .seconds(30), "the follower to print the run's first event") {
                follower.output.contains("run.queued")
            }
            let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "ev", "--poll-interval", "100"] + url)
            try await waitUntil(timeout: .seconds(60), "the follower to see the end") { !follower.isRunning }
            #expect(follower.stop() == 0)
            _ = scheduler.stop()
            let lines = follower.output.split(separator: "\n")
            let envelopes = try lines.map { try JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) }
            let stored = try await db.withConnection { try await RunStore(connection: $0).events(of: UUID(uuidString: id)!) }
            #expect(envelopes.map { $0["seq"] } == stored.map { .number(Double($0.seq)) })
            #expect(envelopes.last?["type"] == .string("run.finished"))
            #expect(envelopes.allSatisfy { $0["v"] == .number(1) && $0["run_id"] == .string(id) })

            let tail = try TrellisBinary.run(["run", "events", id, "--after", "\(stored.count - 2)"] + url)
            #expect(tail.stdout.split(separator: "\n").count == 2)
            #expect(tail.stdout.contains("run.finished"))
            let unknown = try TrellisBinary.run(["run", "events", UUID().uuidString] + url)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.hasPrefix("Error: "))
        }
    }

    @Test func tokensAreShownOnceListedAndRevoked() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            _ = try TrellisBinary.run(["principal", "create", "svc", "--kind", "service"] + url)
            let created = try TrellisBinary.run(["token", "create", "--principal", "svc", "--expires", "30d", "--description", "ci"] + url)
            #expect(created.status == 0, "\(created.stderr)")
            let token = created.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.hasPrefix("trl_") && token.count > 40)
            let prefix = String(token.prefix(12))
            #expect(created.stderr.contains("token \(prefix) for svc, expires "))
            let stored = try await db.withConnection {
                try await $0.query("SELECT count(*) AS n FROM trellis.api_tokens WHERE token_hash = decode($1, 'hex')", [TokenStore.hash(token)])
                    .single().decode("n", as: Int.self)
            }
            #expect(stored == 1)
            let plain = try await db.withConnection {
                try await $0.query("SELECT count(*) AS n FROM trellis.api_tokens WHERE position($1 IN encode(token_hash, 'escape')) > 0 OR description = $1", [token])
                    .single().decode("n", as: Int.self)
            }
            #expect(plain == 0, "the secret itself is stored nowhere")

            let list = try TrellisBinary.run(["token", "list"] + url)
            #expect(list.stdout.contains(prefix))
            #expect(!list.stdout.contains(token))
            #expect(try await db.withConnection { try await TokenStore(connection: $0).authenticate(token) } == "svc")

            let revoked = try TrellisBinary.run(["token", "revoke", prefix] + url)
            #expect(revoked.stdout == "revoked \(prefix)\n")
            let again = try TrellisBinary.run(["token", "revoke", prefix] + url)
            #expect(again.stdout == "\(prefix) was already revoked\n")
            let refused = await #expect(throws: PGError.self) { try await db.withConnection { try await TokenStore(connection: $0).authenticate(token) } }
            #expect(refused?.sqlState == "TR401")

            let badExpiry = try TrellisBinary.run(["token", "create", "--principal", "svc", "--expires", "soon"] + url)
            #expect(badExpiry.status != 0)
            #expect(badExpiry.stderr.contains("--expires must be a duration"))
            let unknown = try TrellisBinary.run(["token", "create", "--principal", "ghost"] + url)
            #expect(unknown.status == 1)
            #expect(unknown.stderr.contains("ghost"))
            let unknownRevoke = try TrellisBinary.run(["token", "revoke", "trl_nope"] + url)
            #expect(unknownRevoke.stderr.contains(#"unknown token "trl_nope""#))
        }
    }
}
