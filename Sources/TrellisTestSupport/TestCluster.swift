import Foundation
import TrellisPQ
import TrellisStore

/// The PostgreSQL server tests run against: `TRELLIS_TEST_DATABASE_URL` when set, else a
/// throwaway cluster started once per test process in a temporary directory (fsync off),
/// stopped and removed when the process exits — by an `atexit` hook, and by a watchdog
/// process in case the test process dies without running it.
public actor TestCluster {
    public static let shared = TestCluster()

    /// A URL of the server's maintenance database (`postgres`) and whether we own it.
    struct Server: Sendable {
        var maintenanceURL: String
        var owned: Bool
    }

    private var server: Task<Server, any Error>?
    private var template: Task<String, any Error>?

    /// Connection URL for database `name` on the test server.
    func url(database name: String) async throws -> String {
        let server = try await self.server()
        return Self.replacingDatabase(in: server.maintenanceURL, with: name)
    }

    func server() async throws -> Server {
        if let server { return try await server.value }
        let task = Task { try await Self.startServer() }
        server = task
        return try await task.value
    }

    /// A database migrated once per process and used as `TEMPLATE` for migrated test
    /// databases (copying it is much faster than migrating each one). Only on our own
    /// cluster: on a shared server each test database is migrated directly.
    func migratedTemplate() async throws -> String? {
        guard try await server().owned else { return nil }
        if let template { return try await template.value }
        let task = Task { () throws -> String in
            let name = "trellis_template"
            try await PGConnection.withConnection(try await self.url(database: "postgres")) { admin in
                try await LocalCluster.createDatabase(name, on: admin)
            }
            try await PGConnection.withConnection(try await self.url(database: name)) { connection in
                try await Migrator(connection: connection).up()
            }
            return name
        }
        template = task
        return try await task.value
    }

    private static func startServer() async throws -> Server {
        if let url = ProcessInfo.processInfo.environment["TRELLIS_TEST_DATABASE_URL"], !url.isEmpty {
            return Server(maintenanceURL: url, owned: false)
        }
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appending(path: "trellis-test-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let cluster = LocalCluster(
            directory: directory,
            settings: ["fsync": "off", "synchronous_commit": "off", "full_page_writes": "off", "max_connections": "800"],
            fastInit: true)
        TestClusterCleanup.register(cluster: cluster, directory: directory)
        let (url, _) = try await cluster.start()
        return Server(maintenanceURL: replacingDatabase(in: url, with: "postgres"), owned: true)
    }

    /// Replaces the database name in a `postgresql://…/name?params` URL.
    static func replacingDatabase(in url: String, with database: String) -> String {
        guard var components = URLComponents(string: url) else { return url }
        components.path = "/" + database
        return components.string ?? url
    }
}

/// Stops and removes the throwaway cluster at process exit.
enum TestClusterCleanup {
    nonisolated(unsafe) private static var commands: [String] = []
    private static let lock = NSLock()

    static func register(cluster: LocalCluster, directory: URL) {
        guard let bin = try? LocalCluster.binaryDirectory() else { return }
        let asServer = geteuid() == 0 ? "runuser -u postgres -- " : ""
        let pgctl = bin.appending(path: "pg_ctl").path
        // Paths are our own temporary directory and the server binaries, never input.
        let stop = "if [ -d '\(directory.path)/pgdata' ]; then \(asServer)'\(pgctl)' stop -D '\(directory.path)/pgdata' -m immediate >/dev/null 2>&1; fi; rm -rf '\(directory.path)'"
        lock.lock()
        let first = commands.isEmpty
        commands.append(stop)
        lock.unlock()
        // Foundation's Process cannot be used while the process exits; system(3) can.
        if first {
            atexit {
                for command in TestClusterCleanup.commands { _ = system(command) }
            }
        }
        startWatchdog(stopCommand: stop)
    }

    /// A detached shell that waits for this process to end, then stops the cluster and
    /// deletes its directory: the cleanup still happens after a crash or SIGKILL.
    private static func startWatchdog(stopCommand: String) {
        let script = "while kill -0 \(getpid()) 2>/dev/null; do sleep 1; done; \(stopCommand)"
        try? ProcessRunner.spawnDetached(["/bin/sh", "-c", script])
    }
}

/// A PostgreSQL cluster of one test's own (for tests that stop and restart the server),
/// migrated, stopped and deleted afterwards — also at process exit or after a crash.
public struct PrivateCluster: Sendable {
    public let cluster: LocalCluster
    public let url: String

    /// `durable` keeps synchronous_commit on, so a commit survives `pg_ctl stop -m
    /// immediate` (fsync stays off: the test kills the server, never the machine).
    public static func with<T: Sendable>(durable: Bool = false, _ body: (PrivateCluster) async throws -> T) async throws -> T {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory())
            .appending(path: "trellis-private-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let cluster = LocalCluster(directory: directory, settings: ["fsync": "off", "synchronous_commit": durable ? "on" : "off"], fastInit: true)
        TestClusterCleanup.register(cluster: cluster, directory: directory)
        defer {
            _ = try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(at: directory)
        }
        let (url, _) = try await cluster.start()
        try await PGConnection.withConnection(url) { try await Migrator(connection: $0).up() }
        return try await body(PrivateCluster(cluster: cluster, url: url))
    }
}
