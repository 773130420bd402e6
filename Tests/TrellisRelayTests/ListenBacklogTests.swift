import Foundation
import Testing
import TrellisStore
import TrellisTestSupport
@testable import TrellisRelay

/// The relay's listening socket queues a reconnect storm: with the server library's
/// default of 256 pending connections, 1,000 clients coming back at once overflowed it,
/// and every dropped attempt waited a second or more for its retry (`trellis bench relay`:
/// subscribing took 3.2–4.2 s with 2–3 overflows, 1.6–1.7 s with none).
@Suite("Listen backlog")
struct ListenBacklogTests {
    /// The backlog the kernel holds for the listening socket on `port` (`ss` shows it as a
    /// listener's Send-Q). Through ProcessRunner, as every spawn in this project
    /// (Foundation's Process can hang on Linux when waited on from concurrency threads).
    static func backlog(port: Int) throws -> Int? {
        let ss = try ProcessRunner().run(URL(fileURLWithPath: "/usr/bin/env"), ["ss", "-ltnH", "sport = :\(port)"])
        let fields = ss.output.split(whereSeparator: \.isWhitespace)
        return ss.status == 0 && fields.count >= 3 ? Int(fields[2]) : nil
    }

    static var somaxconn: Int {
        (try? String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8))
            .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 4096
    }

    @Test func theListeningSocketHasRoomForAReconnectStorm() async throws {
        try await TestDatabase.withMigrated { db in
            let stock = try await RelayHarness.with(db.url) { relay in try Self.backlog(port: relay.port) }
            #expect(stock == min(Relay.Options().backlog, Self.somaxconn), "the stock relay's listen backlog")
            #expect(Relay.Options().backlog >= 1_000)
            let configured = try await RelayHarness.with(db.url, configure: { $0.backlog = 300 }) { relay in try Self.backlog(port: relay.port) }
            #expect(configured == min(300, Self.somaxconn))
        }
    }
}
