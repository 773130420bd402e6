import Foundation
import Testing
import TrellisTestSupport

/// End-to-end: `trellis db …` manages a private cluster, and commands without a URL use it.
@Suite("trellis db (binary)")
struct DBCLITests {
    /// Root's checkout in a private directory (mode 700, like /root): the `postgres` user
    /// cannot enter it, so the cluster lives under /var/lib/trellis/<checkout>, and every
    /// command from that checkout finds it again.
    @Test(.enabled(if: geteuid() == 0, "only root runs the server as another user"))
    func aPrivateCheckoutKeepsItsClusterWhereTheServerCanReachIt() throws {
        let checkout = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-private-checkout-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: checkout, withIntermediateDirectories: true)
        chmod(checkout.path, 0o700)
        defer {
            _ = try? TrellisBinary.run(["db", "stop"], workingDirectory: checkout)
            try? FileManager.default.removeItem(at: checkout)
        }
        let start = try TrellisBinary.run(["db", "start"], workingDirectory: checkout)
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout.hasPrefix("started local PostgreSQL in /var/lib/trellis/trellis-private-checkout-"), "\(start.stdout)")
        let home = String(start.stdout.split(separator: "\n")[0].dropFirst("started local PostgreSQL in ".count))
        defer { try? FileManager.default.removeItem(atPath: home) }
        let url = try TrellisBinary.run(["db", "url"], workingDirectory: checkout)
        #expect(url.status == 0 && url.stdout.hasPrefix("postgresql://trellis@127.0.0.1:"))
        let migrate = try TrellisBinary.run(["migrate", "up"], workingDirectory: checkout)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        let status = try TrellisBinary.run(["db", "status"], workingDirectory: checkout)
        #expect(status.status == 0 && status.stdout.contains(home), "\(status.stdout)")
        let stop = try TrellisBinary.run(["db", "stop"], workingDirectory: checkout)
        #expect(stop.stdout.hasPrefix("stopped local PostgreSQL in \(home)"))
        #expect(!FileManager.default.fileExists(atPath: checkout.appending(path: ".trellis").path))
    }

    @Test func localClusterLifecycle() throws {
        let home = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-home-\(UUID().uuidString.prefix(8))")
        let env = ["TRELLIS_HOME": home.path]
        defer {
            _ = try? TrellisBinary.run(["db", "stop"], environment: env)
            try? FileManager.default.removeItem(at: home)
        }
        let fresh = try TrellisBinary.run(["db", "status"], environment: env)
        #expect(fresh.status == 3)
        #expect(fresh.stdout.contains("not initialised"))

        let start = try TrellisBinary.run(["db", "start"], environment: env)
        #expect(start.status == 0, "\(start.stderr)")
        #expect(start.stdout.hasPrefix("started local PostgreSQL in \(home.path)"))
        let url = start.stdout.split(separator: "\n").last.map(String.init) ?? ""
        #expect(url.hasPrefix("postgresql://trellis@127.0.0.1:"))

        let reused = try TrellisBinary.run(["db", "start"], environment: env)
        #expect(reused.stdout.hasPrefix("already running"))
        #expect(try TrellisBinary.run(["db", "url"], environment: env).stdout == url + "\n")

        // No --database-url and no TRELLIS_DATABASE_URL: the local cluster is used.
        let migrate = try TrellisBinary.run(["migrate", "up"], environment: env)
        #expect(migrate.status == 0, "\(migrate.stderr)")
        #expect(migrate.stdout.contains("applied   0001_initial_schema.sql"))
        #expect(migrate.stderr.isEmpty)

        let stop = try TrellisBinary.run(["db", "stop"], environment: env)
        #expect(stop.stdout.hasPrefix("stopped"))
        let stopped = try TrellisBinary.run(["db", "status"], environment: env)
        #expect(stopped.status == 3)
        #expect(stopped.stdout.hasPrefix("stopped"))

        // A command that needs the database starts it again, says so on stderr, and
        // finds the data it left.
        let status = try TrellisBinary.run(["migrate", "status"], environment: env)
        #expect(status.status == 0, "\(status.stderr)")
        #expect(status.stderr.contains("started local PostgreSQL in \(home.path)"))
        #expect(status.stdout.contains("up to date"))
    }
}
