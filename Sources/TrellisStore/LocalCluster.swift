import Foundation
import TrellisPQ

/// A private PostgreSQL cluster in a directory (the CLI's `.trellis/`, or a temporary
/// directory for tests), started with the server binaries installed on the machine.
///
/// Layout: `pgdata/` (the cluster), `run/` (its unix socket), `postgres.log`, `port`
/// (the last port used, reused when free). The server listens on 127.0.0.1 only, with
/// trust authentication for the `trellis` superuser: it is for one machine's developer
/// or test run, not for production.
public struct LocalCluster: Sendable {
    public enum State: Sendable, Equatable {
        case notInitialized
        case stopped
        case running(port: Int)
    }

    public static let superuser = "trellis"
    public static let databaseName = "trellis"

    public let directory: URL
    /// Extra `-c name=value` server settings (tests turn fsync off).
    public var settings: [String: String]
    /// Skip fsync during initdb (tests).
    public var fastInit: Bool

    public init(directory: URL, settings: [String: String] = [:], fastInit: Bool = false) {
        self.directory = directory.standardizedFileURL
        self.settings = settings
        self.fastInit = fastInit
    }

    var dataDirectory: URL { directory.appending(path: "pgdata") }
    var socketDirectory: URL { directory.appending(path: "run") }
    var logFile: URL { directory.appending(path: "postgres.log") }
    var portFile: URL { directory.appending(path: "port") }

    /// The server binaries: `pg_config --bindir` when it has `initdb`, else the newest
    /// `/usr/lib/postgresql/*/bin`, else `PATH`.
    public static func binaryDirectory() throws -> URL {
        var candidates: [URL] = []
        if let bindir = try? ProcessRunner().run(URL(fileURLWithPath: "/usr/bin/env"), ["pg_config", "--bindir"]),
           bindir.status == 0 {
            candidates.append(URL(fileURLWithPath: bindir.output.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        let debianRoot = URL(fileURLWithPath: "/usr/lib/postgresql")
        if let versions = try? FileManager.default.contentsOfDirectory(atPath: debianRoot.path) {
            for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
                candidates.append(debianRoot.appending(path: version).appending(path: "bin"))
            }
        }
        for path in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append(URL(fileURLWithPath: String(path)))
        }
        for candidate in candidates
        where FileManager.default.isExecutableFile(atPath: candidate.appending(path: "initdb").path)
            && FileManager.default.isExecutableFile(atPath: candidate.appending(path: "pg_ctl").path) {
            return candidate
        }
        throw LocalClusterError(
            "no PostgreSQL server binaries found (initdb, pg_ctl); install them with "
                + "`apt-get install -y postgresql` or run `make deps`")
    }

    /// Root may not run PostgreSQL; the cluster then belongs to the `postgres` system user.
    var serverUser: String? { geteuid() == 0 ? "postgres" : nil }

    private func runner() -> ProcessRunner { ProcessRunner(runAsUser: serverUser) }

    public func state() throws -> State {
        guard FileManager.default.fileExists(atPath: dataDirectory.appending(path: "PG_VERSION").path) else {
            return .notInitialized
        }
        let bin = try Self.binaryDirectory()
        let status = try runner().run(bin.appending(path: "pg_ctl"), ["status", "-D", dataDirectory.path])
        guard status.status == 0, let port = runningPort() else { return .stopped }
        return .running(port: port)
    }

    /// The port from `postmaster.pid` (its fourth line).
    private func runningPort() -> Int? {
        guard let text = try? String(contentsOf: dataDirectory.appending(path: "postmaster.pid"), encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        return lines.count > 3 ? Int(lines[3].trimmingCharacters(in: .whitespaces)) : nil
    }

    public static func url(port: Int, database: String = databaseName) -> String {
        "postgresql://\(superuser)@127.0.0.1:\(port)/\(database)"
    }

    /// Initialises the cluster if needed and starts it if it is not running. Returns the
    /// URL of the `trellis` database and whether this call started the server.
    @discardableResult
    public func start() async throws -> (url: String, started: Bool) {
        if case .running(let port) = try state() {
            return (Self.url(port: port), false)
        }
        let bin = try Self.binaryDirectory()
        try prepareDirectory()
        if try state() == .notInitialized {
            try initialise(bin)
        }
        var port = (try? String(contentsOf: portFile, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? 0
        if port == 0 || !Self.isPortFree(port) { port = try Self.freePort() }
        try String(port).write(to: portFile, atomically: true, encoding: .utf8)

        // A unix socket path must fit in sun_path (108 bytes); deep checkouts use TCP only.
        let socketPath = socketDirectory.path + "/.s.PGSQL.\(port)"
        let socketDirectorySetting = socketPath.utf8.count < 100 ? socketDirectory.path : ""
        // random_page_cost 1.1: index lookups on local SSD-class storage cost about as much
        // as sequential reads; with the default 4 the planner seq-scans node_runs for
        // week-long history windows (docs/history.md has both plans at 1M node runs).
        var options = ["-c listen_addresses=127.0.0.1", "-c port=\(port)", "-c unix_socket_directories='\(socketDirectorySetting)'",
                       "-c random_page_cost=1.1"]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            options.append("-c \(name)=\(value)")
        }
        let result = try runner().run(bin.appending(path: "pg_ctl"), [
            "start", "-w", "-t", "60", "-D", dataDirectory.path, "-l", logFile.path,
            "-o", options.joined(separator: " "),
        ])
        guard result.status == 0 else {
            let log = (try? String(contentsOf: logFile, encoding: .utf8)) ?? ""
            let lastLines = log.split(separator: "\n").suffix(3).joined(separator: " | ")
            throw LocalClusterError("PostgreSQL in \(directory.path) did not start: \(lastLine(result.output)) \(lastLines)")
        }
        try await ensureDatabase(port: port, name: Self.databaseName)
        return (Self.url(port: port), true)
    }

    /// Stops the server (fast shutdown: open sessions are disconnected). Returns false
    /// when it was not running.
    @discardableResult
    public func stop(immediate: Bool = false) throws -> Bool {
        guard case .running = try state() else { return false }
        let bin = try Self.binaryDirectory()
        let result = try runner().run(bin.appending(path: "pg_ctl"), [
            "stop", "-w", "-t", "60", "-D", dataDirectory.path, "-m", immediate ? "immediate" : "fast",
        ])
        guard result.status == 0 else {
            throw LocalClusterError("could not stop PostgreSQL in \(directory.path): \(lastLine(result.output))")
        }
        return true
    }

    /// Creates database `name` when missing (connecting to the `postgres` maintenance database).
    public func ensureDatabase(port: Int, name: String) async throws {
        try await PGConnection.withConnection(Self.url(port: port, database: "postgres")) { connection in
            try await Self.createDatabase(name, on: connection)
        }
    }

    /// `CREATE DATABASE` unless it exists; the name is quoted by libpq, never spliced raw.
    public static func createDatabase(_ name: String, template: String? = nil, on connection: PGConnection) async throws {
        let present = try await connection.run(Query.Cluster.databaseExists, [name]).single().decode("present", as: Bool.self)
        guard !present else { return }
        var statement = "CREATE DATABASE \(try await connection.quoteIdentifier(name))"
        if let template { statement += " TEMPLATE \(try await connection.quoteIdentifier(template))" }
        do {
            try await connection.execute(script: statement)
        } catch let error as PGError where error.sqlState == "42P04" {
            // Created concurrently by another command: fine.
        }
    }

    private func prepareDirectory() throws {
        let manager = FileManager.default
        try manager.createDirectory(at: socketDirectory, withIntermediateDirectories: true)
        if let user = serverUser {
            guard let entry = getpwnam(user) else {
                throw LocalClusterError(
                    "running as root, but there is no '\(user)' system user to run PostgreSQL as; "
                        + "install the server with `apt-get install -y postgresql`")
            }
            let uid = entry.pointee.pw_uid, gid = entry.pointee.pw_gid
            for url in [directory, socketDirectory] + [dataDirectory, logFile, portFile].filter({ manager.fileExists(atPath: $0.path) }) {
                chown(url.path, uid, gid)
            }
            // The server user must be able to reach the directory through its parents.
            let probe = try runner().run(URL(fileURLWithPath: "/usr/bin/test"), ["-w", directory.path])
            if probe.status != 0 {
                throw LocalClusterError(
                    "PostgreSQL runs as the '\(user)' user (not root) and cannot write \(directory.path); "
                        + "make its parent directories traversable (chmod o+x) or set TRELLIS_HOME elsewhere")
            }
        }
        chmod(directory.path, 0o700)
    }

    private func initialise(_ bin: URL) throws {
        var arguments = [
            "-D", dataDirectory.path, "-U", Self.superuser, "--auth=trust", "--encoding=UTF8", "--locale=C",
        ]
        if fastInit { arguments.append("--no-sync") }
        let result = try runner().run(bin.appending(path: "initdb"), arguments)
        guard result.status == 0 else {
            throw LocalClusterError("initdb failed in \(dataDirectory.path): \(lastLine(result.output))")
        }
    }

    /// A TCP port on 127.0.0.1 nothing listens on right now.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LocalClusterError("cannot open a socket to find a free port") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = 0
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw LocalClusterError("cannot bind a socket to find a free port") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    static func isPortFree(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        // As PostgreSQL binds its own socket: connections of a stopped server lingering
        // in TIME_WAIT must not move a restarted cluster to another port.
        var reuse: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &reuse, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}

/// A local-cluster failure, with one line of explanation.
public struct LocalClusterError: Error, Sendable, CustomStringConvertible {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// The last meaningful line of a tool's output, for one-line errors.
func lastLine(_ output: String) -> String {
    output.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        .last { !$0.isEmpty } ?? ""
}
