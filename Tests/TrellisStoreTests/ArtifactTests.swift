import Crypto
import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// Artifacts in SQL: chunked, content-addressed uploads; reads that follow runs.
@Suite("Artifacts (SQL)")
struct ArtifactTests {
    /// Pseudo-random bytes (incompressible), from a seeded generator.
    static func bytes(_ count: Int, seed: UInt64) -> [UInt8] {
        var generator = SeededGenerator(seed: seed)
        return (0..<count).map { _ in UInt8.random(in: 0...255, using: &generator) }
    }

    /// `bytes` in parts of uneven sizes, as a network or a file would deliver them.
    static func parts(_ bytes: [UInt8]) -> AsyncStream<[UInt8]> {
        AsyncStream { continuation in
            var start = 0, step = 1
            while start < bytes.count {
                let end = min(start + 70_000 * step, bytes.count)
                continuation.yield(Array(bytes[start..<end]))
                start = end
                step = step % 7 + 1
            }
            continuation.finish()
        }
    }

    static func count(_ conn: PGConnection, _ table: String) async throws -> Int {
        try await conn.query("SELECT count(*) AS n FROM trellis.\(table)").single().decode("n")
    }

    @Test func uploadsAreChunkedContentAddressedStoredOnceAndCapped() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let store = ArtifactStore(connection: conn)
                let data = Self.bytes(2_500_000, seed: 7)
                let expected = SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
                let first = try await store.upload(Self.parts(data), name: "data.bin", mediaType: "application/x-test", maxBytes: 10_000_000, as: "admin")
                #expect(first.created && first.sha256 == expected && first.size == data.count)
                #expect(try await Self.count(conn, "artifact_chunks") == 3, "1 MiB chunks")
                // The same bytes again: stored once, the second upload dropped.
                let again = try await store.upload(Self.parts(data), name: "copy.bin", mediaType: "text/plain", maxBytes: 10_000_000, as: "admin")
                #expect(!again.created && again.sha256 == expected)
                #expect(try await Self.count(conn, "artifacts") == 1)
                #expect(try await Self.count(conn, "artifact_chunks") == 3)
                // Read back whole, chunk by chunk.
                let head = try await store.head(expected, as: "admin")
                #expect(head.size == data.count && head.mediaType == "application/x-test" && head.name == "data.bin")
                var read: [UInt8] = []
                for index in 0..<3 { read += try await store.chunks(expected, as: "admin", first: index, last: index).flatMap { [UInt8]($0) } }
                #expect(read == data)
                // Over the cap: refused, and the aborted upload left nothing.
                await #expect(throws: ArtifactStore.TooLarge.self) {
                    _ = try await store.upload(Self.parts(Self.bytes(3_000_000, seed: 8)), name: "big", mediaType: "application/x-test",
                                               maxBytes: 2_000_000, as: "admin")
                }
                #expect(try await Self.count(conn, "artifacts") == 1)
                #expect(try await Self.count(conn, "artifact_chunks") == 3)
                // An empty file is an artifact too.
                let empty = try await store.upload(Self.parts([]), name: "empty", mediaType: "text/plain", maxBytes: 10, as: "admin")
                #expect(empty.size == 0 && empty.sha256 == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
                let badType = await #expect(throws: PGError.self) {
                    _ = try await store.upload(Self.parts([1]), name: "x", mediaType: "not a type", maxBytes: 10, as: "admin")
                }
                #expect(badType?.sqlState == SQLState.checkViolation)
            }
        }
    }

    @Test func readingFollowsTheRunsThatReferenceAnArtifact() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                _ = try await WorkflowStore(connection: conn).publish(
                    definition: #"{"name": "uses-file", "nodes": [{"key": "a", "kind": "tool_call", "handler": "echo", "input": {"f": "$input.file"}}]}"#,
                    as: "admin")
                for name in ["bob", "carol"] { _ = try await conn.query("SELECT trellis.create_principal($1, 'user')", [name]) }
                _ = try await PrincipalStore(connection: conn).grant("view", on: "uses-file", to: "bob", as: "admin")
                _ = try await PrincipalStore(connection: conn).grant("run", on: "uses-file", to: "carol", as: "admin")
                let store = ArtifactStore(connection: conn)
                let sha = try await store.upload(Self.parts(Self.bytes(1000, seed: 1)), name: "in.bin", mediaType: "application/x-test",
                                                 maxBytes: 10_000, as: "admin").sha256
                // Bob may view the workflow, but no run references the artifact yet.
                let before = await #expect(throws: PGError.self) { _ = try await store.show(sha, as: "bob") }
                #expect(before?.sqlState == "42501")
                #expect(try await store.list(as: "bob").text == "[]")
                // Carol may start runs but not read the artifact: she cannot put it in an input.
                let runs = RunStore(connection: conn)
                let refused = await #expect(throws: PGError.self) {
                    _ = try await runs.start("uses-file", input: #"{"file": {"$artifact": "\#(sha)"}}"#, as: "carol")
                }
                #expect(refused?.sqlState == "42501")
                #expect(refused?.message.contains(sha) == true)
                let unknown = await #expect(throws: PGError.self) {
                    _ = try await runs.start("uses-file", inputs: ["{}", #"{"file": {"$artifact": "\#(String(repeating: "0", count: 64))"}}"#], as: "admin")
                }
                #expect(unknown?.sqlState == "TR404")
                #expect(unknown?.message.hasPrefix("inputs[1]: ") == true)
                #expect(try await Self.count(conn, "workflow_runs") == 0, "nothing started")
                // The uploader starts a run that references it: its viewers may read it now.
                let run = try await runs.start("uses-file", input: #"{"file": {"$artifact": "\#(sha)"}}"#, as: "admin").runID
                let shown = try await store.show(sha, as: "bob").decode(JSONValue.self)
                #expect(shown["runs"]?[0]?["run_id"]?.stringValue == run.uuidString.lowercased())
                #expect(shown["runs"]?[0]?["role"] == .string("input"))
                #expect(try await store.chunks(sha, as: "bob", first: 0, last: 0).first?.count == 1000)
                #expect(await #expect(throws: PGError.self) { _ = try await store.show(sha, as: "carol") }?.sqlState == "42501")
                // The node got the reference as its input, for the handler.
                let driver = try await Driver.make(conn)
                let claim = try #require(try await driver.claim().first)
                #expect(claim.input.text.contains(sha))
                // Retention keeps a referenced artifact; an upload no run took stays its 7 days.
                let unused = try await store.upload(Self.parts(Self.bytes(10, seed: 2)), name: "later", mediaType: "text/plain",
                                                    maxBytes: 100, as: "admin").sha256
                #expect(try await conn.query("SELECT trellis.prune_artifacts(100) AS n").single().decode("n", as: Int.self) == 0)
                // The run pruned (retention): the reference goes with it, bob's access too, and
                // the artifact that only it used; the unused upload stays until its days are up.
                let pruned = try await HistoryStore(connection: conn).prune(olderThan: "1m", as: "admin")
                #expect(pruned.runs == 0, "the run is still open")
                try await conn.query("DELETE FROM trellis.workflow_runs WHERE id = $1", [run])
                #expect(try await Self.count(conn, "artifact_refs") == 0)
                #expect(await #expect(throws: PGError.self) { _ = try await store.show(sha, as: "bob") }?.sqlState == "42501")
                #expect(try await conn.query("SELECT trellis.prune_artifacts(100) AS n").single().decode("n", as: Int.self) == 1)
                #expect(await #expect(throws: PGError.self) { _ = try await store.show(sha, as: "admin") }?.sqlState == "TR404")
                #expect(try await store.show(unused, as: "admin").text.contains("later"))
                try await conn.query("UPDATE trellis.artifacts SET completed_at = now() - interval '8 days'")
                #expect(try await conn.query("SELECT trellis.prune_artifacts(100) AS n").single().decode("n", as: Int.self) == 1)
                #expect(try await Self.count(conn, "artifact_chunks") == 0)
                #expect(await #expect(throws: PGError.self) { _ = try await store.show(String(repeating: "f", count: 64), as: "admin") }?.sqlState == "TR404")
            }
        }
    }
}
