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

    static func send(_ method: String, _ url: String, token: String?, body: Data? = nil,
                     headers: [String: String] = [:]) async throws -> (status: Int, data: Data, headers: [AnyHashable: Any]) {
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
        return (http.statusCode, data, http.allHeaderFields)
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
            #expect(downloaded.headers["Content-Length"] as? String == "50000000")
            #expect(downloaded.headers["Etag"] as? String == "\"\(id)\"" || downloaded.headers["ETag"] as? String == "\"\(id)\"")
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
                #expect(part.headers["Content-Range"] as? String == "bytes \(from)-\(to - 1)/50000000")
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
}
