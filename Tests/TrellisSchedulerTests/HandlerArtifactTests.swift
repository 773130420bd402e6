import Foundation
import Synchronization
import Testing
import TrellisCore
import TrellisPQ
import TrellisScheduler
import TrellisStore
import TrellisTestSupport

/// Reads the input artifact `input.file`, stores its bytes upper-cased as a new artifact.
private struct UpperHandler: NodeHandler {
    let name = "upper"
    func run(_ context: NodeContext) async throws -> HandlerOutput {
        guard let file = context.input["file"].flatMap(ArtifactReference.init) else {
            throw HandlerError(code: "invalid_input", message: "input.file is not an artifact reference", retryable: false)
        }
        let text = String(decoding: try await context.artifacts.data(file.id), as: UTF8.self)
        let info = try await context.artifacts.info(file.id)
        let stored = try await context.artifacts.put(Data(text.uppercased().utf8), name: "upper.txt", mediaType: "text/plain")
        return HandlerOutput(.object(["upper": stored.json, "read_name": .string(info.name), "read_size": .number(Double(info.size))]))
    }
}

/// An output of `input.count` rows: larger than the test's inline cap.
private struct BigHandler: NodeHandler {
    let name = "big"
    func run(_ context: NodeContext) async throws -> HandlerOutput {
        HandlerOutput(Self.output(count: context.input["count"]?.integer(in: 0...1_000_000) ?? 0))
    }

    static func output(count: Int) -> JSONValue {
        .object(["rows": .array((0..<count).map { .object(["i": .number(Double($0)), "text": .string("row \($0) ✓")]) })])
    }
}

/// Stores 2.5 MiB (three chunks) as an artifact and returns its reference.
private struct StoreHandler: NodeHandler {
    let name = "store"
    static let bytes = Data((0..<(5 << 19)).map { UInt8(truncatingIfNeeded: $0 &* 31) })
    func run(_ context: NodeContext) async throws -> HandlerOutput {
        HandlerOutput(.object(["stored": try await context.artifacts.put(Self.bytes, name: "blob.bin").json]))
    }
}

/// Downstream of both: reads the upper-cased artifact, expands the stored big output, and
/// tries an artifact its run does not reference. Fails its first call ever (`failFirst`),
/// so a run can be retried from where it failed.
private struct ConsumerHandler: NodeHandler {
    let name = "consumer"
    let calls: Calls
    let foreign: String

    final class Calls: Sendable {
        let count = Atomic<Int>(0)
        let failFirst: Bool
        init(failFirst: Bool) { self.failFirst = failFirst }
    }

    func run(_ context: NodeContext) async throws -> HandlerOutput {
        if calls.count.add(1, ordering: .relaxed).oldValue == 0 && calls.failFirst {
            throw HandlerError(code: "first_call", message: "fails once by design", retryable: false)
        }
        guard let upper = context.input["upper"].flatMap(ArtifactReference.init) else {
            throw HandlerError(code: "invalid_input", message: "input.upper is not an artifact reference", retryable: false)
        }
        var upperText = ""
        for try await chunk in try await context.artifacts.chunks(upper.id) { upperText += String(decoding: chunk, as: UTF8.self) }
        // The scheduler expanded the stored output before the handler ran; expanding again is a no-op.
        let arrivedWhole = context.input["big"].flatMap(ArtifactReference.init) == nil
        let big = try await context.artifacts.expandingStoredOutputs(context.input["big"] ?? .null)
        var refusal = "none"
        do {
            _ = try await context.artifacts.data(foreign)
        } catch let error as HandlerError {
            refusal = error.code
        }
        var missing = "none"
        do {
            _ = try await context.artifacts.info(String(repeating: "0", count: 64))
        } catch let error as HandlerError {
            missing = error.code
        }
        return HandlerOutput(.object(["upper_text": .string(upperText), "big_rows": .number(Double(big["rows"]?.arrayValue?.count ?? -1)),
                                      "big_last": big["rows"]?.arrayValue?.last ?? .null, "foreign": .string(refusal), "missing": .string(missing),
                                      "arrived_whole": .bool(arrivedWhole), "picked": context.input["picked"] ?? .null,
                                      "count": context.input["count"] ?? .null]))
    }
}

/// The handler side of artifacts, end to end on a scheduler logged in as a
/// `trellis_scheduler` member: a handler reads its run's input artifact and stores one of
/// its own, an output over the inline cap is stored whole as an artifact with a preview,
/// a downstream handler reads both and is refused an artifact its run does not reference;
/// a retry from where the run failed keeps the stored artifacts readable.
@Suite("Handler artifacts")
struct HandlerArtifactTests {
    static let definition = """
        {"name": "artifact-flow", "nodes": [
          {"key": "make", "kind": "tool_call", "handler": "upper", "input": {"file": "$input.file"}},
          {"key": "big", "kind": "tool_call", "handler": "big", "input": {"count": "$input.count"}},
          {"key": "use", "kind": "tool_call", "handler": "consumer",
           "input": {"upper": "$make.upper", "big": "$big", "picked": "$big.rows[2].text", "count": "$input.count"}},
          {"key": "whole", "kind": "condition", "predicate": "$.big.rows.size() == $.input.count"},
          {"key": "unseen", "kind": "tool_call", "handler": "big", "input": {"count": 0}}],
         "edges": [{"from": "make", "to": "use"}, {"from": "big", "to": "whole"}, {"from": "whole", "to": "use", "label": "true"},
                   {"from": "whole", "to": "unseen", "label": "false"}]}
        """

    static func parts(_ text: String) -> AsyncStream<[UInt8]> {
        AsyncStream { $0.yield(Array(text.utf8)); $0.finish() }
    }

    @Test func handlersReadAndStoreArtifactsAndLargeOutputsAreStoredWhole() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withLogin(inRole: "trellis_scheduler") { schedulerURL in
                let (run, input, foreign) = try await db.withConnection { conn in
                    _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition, as: "admin")
                    let artifacts = ArtifactStore(connection: conn)
                    let input = try await artifacts.upload(Self.parts("hello, artifacts"), name: "hello.txt", mediaType: "text/plain",
                                                           maxBytes: 1 << 20, as: "admin")
                    let foreign = try await artifacts.upload(Self.parts("not this run's"), name: "other.txt", mediaType: "text/plain",
                                                             maxBytes: 1 << 20, as: "admin")
                    let run = try await RunStore(connection: conn).start(
                        "artifact-flow", input: #"{"file": {"$artifact": "\#(input.sha256)"}, "count": 3000}"#, as: "admin").runID
                    return (run, input, foreign)
                }
                var options = SchedulerOptions(name: "artifact-handlers")
                options.pollInterval = .milliseconds(50)
                options.maxOutputBytes = 50_000
                let registry = HandlerRegistry([UpperHandler(), BigHandler(),
                                                ConsumerHandler(calls: .init(failFirst: false), foreign: foreign.sha256)])
                let scheduler = Scheduler(databaseURL: schedulerURL, registry: registry, options: options)
                let running = Task { try await scheduler.run() }
                try await db.withConnection { conn in
                    try await waitUntil(timeout: .seconds(60), "the run to finish") { try await RunStore(connection: conn).run(run).finishedAt != nil }
                    scheduler.requestStop()
                    _ = try await running.value
                    try await Self.verify(conn, run: run, input: input.sha256)
                }
            }
        }
    }

    static func verify(_ conn: PGConnection, run: UUID, input: String) async throws {
        let runs = RunStore(connection: conn)
        #expect(try await runs.run(run).status == "succeeded")
        let nodes = Dictionary(uniqueKeysWithValues: try await runs.nodes(of: run).map { ($0.key, $0) })

        // The handler read its input artifact and stored a new one, made by its node run.
        let made = try #require(try nodes["make"]?.output?.decode(JSONValue.self))
        #expect(made["read_name"] == .string("hello.txt") && made["read_size"] == .number(16))
        let upper = try #require(made["upper"].flatMap(ArtifactReference.init))
        #expect(upper.name == "upper.txt" && upper.mediaType == "text/plain" && upper.size == 16)
        let row = try await conn.query("""
            SELECT a.node_run_id, p.name AS created_by, f.role, f.node_run_id AS ref_node
            FROM trellis.artifacts a JOIN trellis.principals p ON p.id = a.created_by
            JOIN trellis.artifact_refs f ON f.artifact_id = a.id AND f.run_id = $2::uuid
            WHERE a.sha256 = $1
            """, [upper.id, run]).single()
        #expect(try row.decode("node_run_id", as: Int64.self) == nodes["make"]?.id)
        #expect(try row.decode("ref_node", as: Int64.self) == nodes["make"]?.id)
        #expect(try row.decode("created_by", as: String.self) == "admin" && (try row.decode("role", as: String.self)) == "output")

        // The big output is a reference with a preview; the artifact holds it whole.
        let bigOutput = try #require(try nodes["big"]?.output?.decode(JSONValue.self))
        let stored = try #require(ArtifactReference(bigOutput))
        #expect(stored.isStoredOutput && stored.mediaType == "application/json" && stored.name == "big.output.json")
        let preview = try #require(bigOutput["preview"]?.stringValue)
        #expect(preview.utf8.count <= 1_024 && preview.utf8.count > 1_000 && preview.hasPrefix(#"{"rows":[{"i":0,"text":"row 0 ✓"}"#))
        let head = try await ArtifactStore(connection: conn).head(stored.id, as: "admin")
        var whole = Data()
        for index in 0..<((head.size + head.chunkSize - 1) / head.chunkSize) {
            whole += try await ArtifactStore(connection: conn).chunks(stored.id, as: "admin", first: index, last: index).first ?? Data()
        }
        #expect(whole.count == stored.size && stored.size > 50_000)
        let expected = BigHandler.output(count: 3000)
        #expect(try JSONDecoder().decode(JSONValue.self, from: whole) == expected)
        // The node.finished event carries the reference, not the rows.
        let event = try await conn.query("""
            SELECT length(data::text) AS size FROM trellis.run_events
            WHERE run_id = $1::uuid AND type = 'node.finished' AND data ->> 'node_key' = 'big'
            """, [run]).single().decode("size", as: Int.self)
        #expect(event < 4_000)

        // Downstream: the artifact read in chunks, the big output expanded, the
        // foreign artifact refused, an unknown one not found.
        let used = try #require(try nodes["use"]?.output?.decode(JSONValue.self))
        #expect(used["upper_text"] == .string("HELLO, ARTIFACTS"))
        #expect(used["big_rows"] == .number(3000) && used["big_last"] == .object(["i": .number(2999), "text": .string("row 2999 ✓")]))
        #expect(used["foreign"] == .string("artifact_forbidden") && used["missing"] == .string("artifact_not_found"))
        // The handler got the stored output whole, and a path into it resolved against the stored value.
        #expect(used["arrived_whole"] == .bool(true) && used["picked"] == .string("row 2 ✓"))
        // The predicate tested the stored value (3000 rows), not the reference.
        #expect(nodes["whole"]?.status == "succeeded" && nodes["unseen"]?.status == "skipped")
        let bound = try #require(try nodes["use"]?.input?.decode(JSONValue.self))
        #expect(bound["picked"] == .string("row 2 ✓") && ArtifactReference(bound["big"] ?? .null)?.isStoredOutput == true,
                "the stored input keeps the reference, not the rows")

        // A finished node's attempt can neither store nor read any more.
        let scheduler = try await conn.query("SELECT id FROM trellis.schedulers WHERE name = 'artifact-handlers'").single().decode("id", as: Int64.self)
        for statement in ["SELECT trellis.begin_node_artifact($1, $2, 1, 'late.txt', 'text/plain')",
                          "SELECT * FROM trellis.node_artifact($1, $2, 1, '\(input)')"] {
            let late = await #expect(throws: PGError.self) { try await conn.query(statement, [scheduler, nodes["make"]!.id]) }
            #expect(late?.sqlState == "TR409" && late?.message.contains("stale result") == true, "\(String(describing: late))")
        }
        // Readers of the run may read what its handlers stored; others may not.
        _ = try await PrincipalStore(connection: conn).create("stranger", as: "admin")
        let refused = await #expect(throws: PGError.self) { try await ArtifactStore(connection: conn).show(upper.id, as: "stranger") }
        #expect(refused?.sqlState == "42501")
    }

    /// A run whose consumer failed is retried from where it failed: the kept nodes' stored
    /// artifacts are referenced by the new run, so its consumer can read them.
    @Test func aRetryKeepsTheStoredArtifactsReadable() async throws {
        try await TestDatabase.withMigrated { db in
            let (run, _) = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: Self.definition, as: "admin")
                let input = try await ArtifactStore(connection: conn).upload(Self.parts("retry me"), name: "in.txt", mediaType: "text/plain",
                                                                             maxBytes: 1 << 20, as: "admin")
                return (try await RunStore(connection: conn).start(
                    "artifact-flow", input: #"{"file": {"$artifact": "\#(input.sha256)"}, "count": 2000}"#, as: "admin").runID, input)
            }
            var options = SchedulerOptions(name: "artifact-retry")
            options.pollInterval = .milliseconds(50)
            options.maxOutputBytes = 20_000
            let registry = HandlerRegistry([UpperHandler(), BigHandler(),
                                            ConsumerHandler(calls: .init(failFirst: true), foreign: String(repeating: "1", count: 64))])
            let scheduler = Scheduler(databaseURL: db.url, registry: registry, options: options)
            let running = Task { try await scheduler.run() }
            try await db.withConnection { conn in
                let runs = RunStore(connection: conn)
                try await waitUntil(timeout: .seconds(60), "the first run to fail") { try await runs.run(run).finishedAt != nil }
                #expect(try await runs.run(run).status == "failed")
                let retry = try await runs.retry(run, as: "admin")
                #expect(retry.reused == 3)  // make, big and the condition
                try await waitUntil(timeout: .seconds(60), "the retry to finish") { try await runs.run(retry.id).finishedAt != nil }
                scheduler.requestStop()
                _ = try await running.value
                #expect(try await runs.run(retry.id).status == "succeeded")
                let used = try #require(try await runs.nodes(of: retry.id).first { $0.key == "use" }?.output?.decode(JSONValue.self))
                #expect(used["upper_text"] == .string("RETRY ME") && used["big_rows"] == .number(2000))
                // Both stored artifacts (upper.txt, big.output.json) are outputs of the new run too.
                let copied = try await conn.query("""
                    SELECT count(*) AS n FROM trellis.artifact_refs f JOIN trellis.artifacts a ON a.id = f.artifact_id
                    WHERE f.run_id = $1::uuid AND f.role = 'output' AND a.name IN ('upper.txt', 'big.output.json')
                    """, [retry.id]).single().decode("n", as: Int.self)
                #expect(copied == 2)
                // References keep artifacts alive: with the first run gone, the retry still
                // references the input and both stored artifacts; with both gone, they go.
                func prune() async throws -> Int {
                    try await conn.query("SELECT trellis.prune_artifacts(100) AS n").single().decode("n", as: Int.self)
                }
                try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1::uuid", [run])
                #expect(try await prune() == 0)
                try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1::uuid", [retry.id])
                #expect(try await prune() == 3)
                #expect(try await conn.query("SELECT count(*) AS n FROM trellis.artifact_chunks").single().decode("n", as: Int.self) == 0)
            }
        }
    }

    /// A backend terminated under an upload (a database restart, an operator's
    /// `pg_terminate_backend`, chaos) is the infrastructure's failure: the upload is sent
    /// again on a fresh connection and the node succeeds on its one attempt, its retry
    /// budget untouched. The cut is the database's own: the first chunk the scheduler's
    /// artifact connection writes terminates that backend (a sequence remembers it across
    /// the rollback).
    @Test func anUploadWhoseConnectionIsLostIsSentAgainWithoutSpendingARetry() async throws {
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                try await conn.execute(script: """
                    CREATE SEQUENCE public.cuts;
                    CREATE FUNCTION public.cut_first_upload() RETURNS trigger LANGUAGE plpgsql AS $fn$
                    BEGIN
                        IF current_setting('application_name') LIKE 'trellis-scheduler-artifacts%' AND nextval('public.cuts') = 1 THEN
                            PERFORM pg_terminate_backend(pg_backend_pid());
                            PERFORM pg_sleep(5);  -- the termination lands here
                        END IF;
                        RETURN NEW;
                    END;
                    $fn$;
                    CREATE TRIGGER cut_first_upload BEFORE INSERT ON trellis.artifact_chunks
                        FOR EACH ROW EXECUTE FUNCTION public.cut_first_upload();
                    """)
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "store-once", "nodes": [{"key": "s", "kind": "tool_call", "handler": "store", "retry": {"max_attempts": 1}}]}
                    """, as: "admin")
                return try await RunStore(connection: conn).start("store-once", input: "{}", as: "admin").runID
            }
            let finished = try await runToTheEnd(db, run, registry: HandlerRegistry([StoreHandler()]), name: "cut-upload")
            #expect(finished.status == "succeeded", "\(finished.errors)")
            #expect(finished.nodes["s"]?.attempt == 1)
            try await db.withConnection { conn in
                #expect(try await conn.query("SELECT last_value AS n FROM public.cuts").single().decode("n", as: Int.self) > 1,
                        "the upload was cut once and sent again")
                let stored = try await conn.query("SELECT size FROM trellis.artifacts WHERE name = 'blob.bin'").single()
                #expect(try stored.decode("size", as: Int.self) == StoreHandler.bytes.count)
            }
        }
    }

    /// The built-in `http` handler downloads a response into an artifact
    /// (`config.response_artifact`); an empty name is refused as bad config.
    @Test func theHTTPHandlerStoresAResponseAsAnArtifact() async throws {
        let server = try TestHTTPServer()
        defer { server.stop() }
        try await TestDatabase.withMigrated { db in
            let run = try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "download", "nodes": [
                      {"key": "fetch", "kind": "tool_call", "handler": "http", "config": {"url": "\(server.baseURL)/big/200000", "response_artifact": "payload.json"}},
                      {"key": "nameless", "kind": "tool_call", "handler": "http", "config": {"url": "\(server.baseURL)/", "response_artifact": ""},
                       "on_error": "continue"}]}
                    """, as: "admin")
                return try await RunStore(connection: conn).start("download", as: "admin").runID
            }
            let nodes = try await runToTheEnd(db, run, registry: .standard(), name: "downloader").nodes
            try await db.withConnection { conn in
                let output = try #require(try nodes["fetch"]?.output?.decode(JSONValue.self))
                #expect(output["status"] == .number(200))
                let stored = try #require(output["artifact"].flatMap(ArtifactReference.init))
                #expect(stored.name == "payload.json" && stored.mediaType == "application/json" && stored.size == 200_002 && !stored.isStoredOutput)
                let bytes = try await ArtifactStore(connection: conn).chunks(stored.id, as: "admin", first: 0, last: 0)
                #expect(bytes.first == Data(("\"" + String(repeating: "b", count: 200_000) + "\"").utf8))
                #expect(nodes["nameless"]?.status == "failed")
                #expect(try nodes["nameless"]?.error?.decode(JSONValue.self)["code"] == .string("invalid_config"))
            }
        }
    }
}
