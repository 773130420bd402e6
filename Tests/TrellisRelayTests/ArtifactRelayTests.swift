import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// /v1/artifacts through a real `trellis relay` process: a 50 MB round trip with the
/// relay's memory watched, byte ranges, conditional requests, 413 and refusals.
@Suite("Relay artifacts")
struct ArtifactRelayTests {
    /// Peak and current resident memory of a process, in MB (Linux /proc).
    static func memory(_ pid: pid_t) -> (peak: Double, now: Double) {
        let status = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        func field(_ name: String) -> Double {
            let line = status.split(separator: "\n").first { $0.hasPrefix(name + ":") } ?? ""
            return (Double(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) / 1024
        }
        return (field("VmHWM"), field("VmRSS"))
    }

    /// Bounded as a whole (URLSession's timeout is per idle interval), generously: 50 MB
    /// go through a debug build here.
    static func send(_ method: String, _ url: String, token: String?, body: Data? = nil,
                     headers: [String: String] = [:]) async throws -> (status: Int, data: Data, headers: [String: String]) {
        try await withDeadline(.seconds(300), "\(method) \(url)") {
            var request = URLRequest(url: URL(string: url)!)
            request.httpMethod = method
            request.timeoutInterval = 120
            if let token { request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization") }
            for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
            let (data, response): (Data, URLResponse)
            if let body {
                (data, response) = try await URLSession.shared.upload(for: request, from: body)
            } else {
                (data, response) = try await URLSession.shared.data(for: request)
            }
            let http = response as! HTTPURLResponse
            var fields: [String: String] = [:]
            for (key, value) in http.allHeaderFields { fields["\(key)".lowercased()] = "\(value)" }
            return (http.statusCode, data, fields)
        }
    }

    @Test func fiftyMegabytesRoundTripWithFlatMemoryRangesAndRefusals() async throws {
        try await TestDatabase.withMigrated { db in
            let (admin, outsider) = try await PGConnection.withConnection(db.url) { conn in
                _ = try await conn.query("SELECT trellis.create_principal('outsider', 'user')")
                let tokens = TokenStore(connection: conn)
                return (try await tokens.create(for: "admin", as: "admin").token, try await tokens.create(for: "outsider", as: "admin").token)
            }
            let port = try LocalCluster.freePort()
            let relay = try BackgroundProcess(trellis: ["relay", "--port", "\(port)", "--database-url", db.url, "--max-artifact-bytes", "60000000"])
            defer { _ = relay.stop() }
            let base = "http://127.0.0.1:\(port)"
            try await waitUntil(timeout: .seconds(60), "the relay to answer") {
                (try? await Self.send("GET", base + "/healthz", token: nil).status) == 200
            }
            var generator = SeededGenerator(seed: 50)
            var file = Data(count: 50_000_000)
            file.withUnsafeMutableBytes { raw in
                for index in stride(from: 0, to: raw.count, by: 8) {
                    var word = generator.next()
                    withUnsafeBytes(of: &word) { for k in 0..<min(8, raw.count - index) { raw[index + k] = $0[k] } }
                }
            }
            let before = Self.memory(relay.pid)

            let uploaded = try await Self.send("POST", base + "/v1/artifacts?name=big.bin", token: admin, body: file,
                                               headers: ["Content-Type": "application/x-test"])
            #expect(uploaded.status == 201, "\(String(decoding: uploaded.data, as: UTF8.self))")
            let id = try #require(try JSONDecoder().decode(JSONValue.self, from: uploaded.data)["id"]?.stringValue)
            let downloaded = try await Self.send("GET", base + "/v1/artifacts/\(id)", token: admin)
            #expect(downloaded.status == 200)
            #expect(downloaded.data == file, "the same 50 MB came back")
            #expect(downloaded.headers["content-length"] == "50000000")
            #expect(downloaded.headers["etag"] == "\"\(id)\"")
            let after = Self.memory(relay.pid)
            print("relay memory: peak \(before.peak) MB before, \(after.peak) MB after a 50 MB upload and download (resident now \(after.now) MB)")
            #expect(after.peak - before.peak < 40, "the relay streamed rather than held the file (peak grew \(after.peak - before.peak) MB)")

            // The same bytes again: 200, stored once.
            let again = try await Self.send("POST", base + "/v1/artifacts", token: admin, body: file)
            #expect(again.status == 200)

            // Ranges: inside one chunk, across the chunk boundary, a suffix, and past the end.
            for (range, from, to) in [("bytes=0-99", 0, 100), ("bytes=1048570-1048600", 1_048_570, 1_048_601), ("bytes=-10", 49_999_990, 50_000_000)] {
                let part = try await Self.send("GET", base + "/v1/artifacts/\(id)", token: admin, headers: ["Range": range])
                #expect(part.status == 206, "\(range)")
                #expect(part.data == file.subdata(in: from..<to), "\(range)")
                #expect(part.headers["content-range"] == "bytes \(from)-\(to - 1)/50000000")
            }
            let past = try await Self.send("GET", base + "/v1/artifacts/\(id)", token: admin, headers: ["Range": "bytes=60000000-"])
            #expect(past.status == 416)
            let cached = try await Self.send("GET", base + "/v1/artifacts/\(id)", token: admin, headers: ["If-None-Match": "\"\(id)\""])
            #expect(cached.status == 304)

            // Refusals, each with a JSON error: too large (nothing stored), not readable, unknown, no token.
            let tooLarge = try await Self.send("POST", base + "/v1/artifacts", token: admin, body: Data(count: 60_000_001))
            #expect(tooLarge.status == 413)
            #expect(String(decoding: tooLarge.data, as: UTF8.self).contains("\"too_large\""))
            let forbidden = try await Self.send("GET", base + "/v1/artifacts/\(id)", token: outsider)
            #expect(forbidden.status == 403)
            #expect(try await Self.send("GET", base + "/v1/artifacts/\(id)/meta", token: outsider).status == 403)
            #expect(try await Self.send("GET", base + "/v1/artifacts/\(String(repeating: "0", count: 64))", token: admin).status == 404)
            #expect(try await Self.send("GET", base + "/v1/artifacts/\(id)", token: nil).status == 401)
            let listed = try await Self.send("GET", base + "/v1/artifacts", token: outsider)
            #expect(String(decoding: listed.data, as: UTF8.self) == #"{"artifacts": []}"#)
            let stored = try await PGConnection.withConnection(db.url) {
                try await $0.query("SELECT count(*) AS n, sum(size)::bigint AS bytes FROM trellis.artifacts").single()
            }
            #expect(try stored.decode("n", as: Int.self) == 1)
            #expect(try stored.decode("bytes", as: Int.self) == 50_000_000)
        }
    }

    /// A handler output over the inline cap, on a real scheduler process, is stored whole as
    /// an artifact; the run shows a reference with a preview, and the whole output comes
    /// back through the run API (relay process) and `trellis run output`.
    @Test func anOutputOverTheInlineCapIsStoredAndFetchedWholeThroughTheRunAPI() async throws {
        try await TestDatabase.withMigrated { db in
            let (run, admin, outsider) = try await PGConnection.withConnection(db.url) { conn in
                _ = try await WorkflowStore(connection: conn).publish(definition: """
                    {"name": "big-output", "nodes": [
                      {"key": "huge", "kind": "tool_call", "handler": "sql", "config": {"query": "SELECT repeat('x', 7000000) AS blob, 42 AS answer"}},
                      {"key": "small", "kind": "tool_call", "handler": "echo", "input": {"n": 1}}]}
                    """, as: "admin")
                _ = try await conn.query("SELECT trellis.create_principal('outsider', 'user')")
                let tokens = TokenStore(connection: conn)
                return (try await RunStore(connection: conn).start("big-output", as: "admin").runID,
                        try await tokens.create(for: "admin", as: "admin").token, try await tokens.create(for: "outsider", as: "admin").token)
            }
            let scheduler = try BackgroundProcess(trellis: ["scheduler", "--name", "storer", "--allow-sql", "--poll-interval", "100",
                                                            "--database-url", db.url])
            defer { _ = scheduler.stop() }
            try await PGConnection.withConnection(db.url) { conn in
                try await waitUntil(timeout: .seconds(60), "the run to finish") { try await RunStore(connection: conn).run(run).finishedAt != nil }
                #expect(try await RunStore(connection: conn).run(run).status == "succeeded", "\(scheduler.log)")
            }
            #expect(scheduler.stop() == 0, "\(scheduler.log)")

            let port = try LocalCluster.freePort()
            let relay = try BackgroundProcess(trellis: ["relay", "--port", "\(port)", "--database-url", db.url])
            defer { _ = relay.stop() }
            let base = "http://127.0.0.1:\(port)/v1/runs/\(run.uuidString.lowercased())/nodes"
            try await waitUntil(timeout: .seconds(60), "the relay to answer") {
                (try? await Self.send("GET", "http://127.0.0.1:\(port)/healthz", token: nil).status) == 200
            }
            // The node shows a reference with a preview, not 7 MB.
            let detail = try await Self.send("GET", base + "/huge?logs=0", token: admin)
            #expect(detail.status == 200 && detail.data.count < 8_000, "\(detail.data.count) bytes")
            let output = try #require(try JSONDecoder().decode(JSONValue.self, from: detail.data)["output"])
            let stored = try #require(ArtifactReference(output))
            #expect(stored.isStoredOutput && stored.mediaType == "application/json" && stored.name == "huge.output.json")
            #expect(output["preview"]?.stringValue?.hasPrefix("{") == true)

            // Fetched whole through the run API: the artifact's bytes, which are the output.
            let whole = try await Self.send("GET", base + "/huge/output", token: admin)
            #expect(whole.status == 200 && whole.data.count == stored.size && stored.size > 7_000_000)
            let value = try JSONDecoder().decode(JSONValue.self, from: whole.data)
            #expect(value["rows"]?[0]?["blob"]?.stringValue?.count == 7_000_000 && value["rows"]?[0]?["answer"] == .number(42))
            let part = try await Self.send("GET", base + "/huge/output", token: admin, headers: ["Range": "bytes=0-9"])
            #expect(part.status == 206 && part.data == whole.data.prefix(10))
            // An inline output comes back as it is; a stranger to the workflow is refused.
            let small = try await Self.send("GET", base + "/small/output", token: admin)
            #expect(small.status == 200)
            #expect(try JSONDecoder().decode(JSONValue.self, from: small.data) == .object(["n": .number(1)]))
            let refused = try await Self.send("GET", base + "/huge/output", token: outsider)
            #expect(refused.status == 403, "\(String(decoding: refused.data, as: UTF8.self))")
            let unknown = try await Self.send("GET", base + "/nope/output", token: admin)
            #expect(unknown.status == 404)
            #expect(try JSONDecoder().decode(JSONValue.self, from: unknown.data)["error"]?["code"] == .string("not_found"))

            // The CLI writes the same bytes.
            let file = FileManager.default.temporaryDirectory.appending(path: "trellis-output-\(UUID().uuidString).json")
            defer { try? FileManager.default.removeItem(at: file) }
            let cli = try TrellisBinary.run(["run", "output", run.uuidString, "huge", "--output", file.path, "--database-url", db.url])
            #expect(cli.status == 0, "\(cli.stderr)")
            #expect(try Data(contentsOf: file) == whole.data)
        }
    }
}
