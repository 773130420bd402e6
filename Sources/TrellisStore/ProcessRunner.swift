import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Runs a helper program (initdb, pg_ctl) to completion and captures its output.
///
/// Uses `posix_spawn` and `waitpid` directly: Foundation's `Process.waitUntilExit` can
/// hang on Linux when called from Swift concurrency threads. PostgreSQL refuses to run as
/// root, so when we are root the program runs as `runAsUser` through `runuser`.
public struct ProcessRunner: Sendable {
    public struct Output: Sendable {
        public var status: Int32
        public var output: String
    }

    public var runAsUser: String?

    public init(runAsUser: String? = nil) {
        self.runAsUser = runAsUser
    }

    /// Runs to completion. Output is stdout and stderr together, unless `stderrFile`
    /// names a file to receive stderr on its own. `environment` entries override the
    /// inherited ones; `removing` drops inherited variables; `workingDirectory` is
    /// where the program starts.
    @discardableResult
    public func run(
        _ executable: URL, _ arguments: [String], environment: [String: String] = [:],
        removing: [String] = [], workingDirectory: URL? = nil, stderrFile: URL? = nil
    ) throws -> Output {
        var argv = [executable.path] + arguments
        if let user = runAsUser {
            let runuser = ["/usr/sbin/runuser", "/sbin/runuser"].first { FileManager.default.isExecutableFile(atPath: $0) } ?? "runuser"
            argv = [runuser, "-u", user, "--"] + argv
        }
        var env = ProcessInfo.processInfo.environment
        // Never let a caller's libpq settings redirect our own maintenance commands.
        for key in env.keys where key.hasPrefix("PG") { env.removeValue(forKey: key) }
        env["LC_ALL"] = "C"
        env.merge(environment) { $1 }
        for key in removing { env.removeValue(forKey: key) }
        if let workingDirectory { argv = ["/bin/sh", "-c", "cd \"$0\" && exec \"$@\"", workingDirectory.path] + argv }

        // Close-on-exec: a child spawned concurrently by another thread (a server that
        // lives on) must not inherit our pipe and keep it open forever.
        var pipeFDs: [Int32] = [0, 0]
        // Glibc's pipe2 is not visible to Swift, so the pipe is made and marked under a
        // process-wide lock that every spawn here takes too.
        Self.spawnLock.lock()
        guard pipe(&pipeFDs) == 0 else {
            Self.spawnLock.unlock()
            throw LocalClusterError("pipe() failed: errno \(errno)")
        }
        _ = fcntl(pipeFDs[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(pipeFDs[1], F_SETFD, FD_CLOEXEC)
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 1)
        if let stderrFile {
            posix_spawn_file_actions_addopen(&actions, 2, stderrFile.path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        } else {
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[1], 2)
        }
        posix_spawn_file_actions_addclose(&actions, pipeFDs[0])
        posix_spawn_file_actions_addclose(&actions, pipeFDs[1])

        let spawned = Result { try Self.spawn(argv, env: env, actions: &actions) }
        close(pipeFDs[1])
        Self.spawnLock.unlock()
        let pid: pid_t
        do {
            pid = try spawned.get()
        } catch {
            close(pipeFDs[0])
            throw error
        }
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 8192)
        while true {
            let count = read(pipeFDs[0], &buffer, buffer.count)
            if count > 0 {
                data.append(contentsOf: buffer[0..<count])
            } else if count == 0 || errno != EINTR {
                break
            }
        }
        close(pipeFDs[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return Output(status: exitCode, output: String(decoding: data, as: UTF8.self))
    }

    /// Starts a program with stdio on /dev/null and does not wait for it.
    public static func spawnDetached(_ argv: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        spawnLock.lock()
        defer { spawnLock.unlock() }
        _ = try spawn(argv, env: ProcessInfo.processInfo.environment, actions: &actions)
    }

    /// Starts a program in the background with stdin on /dev/null, stdout appended to
    /// `stdoutFile` (or discarded) and stderr to `stderrFile`; returns its pid (the caller
    /// waits for it).
    public static func spawnBackground(_ argv: [String], environment: [String: String] = [:], removing: [String] = [],
                                       stdoutFile: URL? = nil, stderrFile: URL) throws -> pid_t {
        var env = ProcessInfo.processInfo.environment
        env.merge(environment) { $1 }
        for key in removing { env.removeValue(forKey: key) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, stdoutFile?.path ?? "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_addopen(&actions, 2, stderrFile.path, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        spawnLock.lock()
        defer { spawnLock.unlock() }
        return try spawn(argv, env: env, actions: &actions)
    }

    /// Waits for a child started with `spawnBackground`; its exit code (128+signal when killed).
    public static func waitForExit(_ pid: pid_t) -> Int32 {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return exitCode(status)
    }

    /// Waits up to `timeout` for `pid` to exit; nil if it is still running then.
    public static func waitForExit(_ pid: pid_t, timeout: Duration) -> Int32? {
        let deadline = ContinuousClock.now + timeout
        var status: Int32 = 0
        while true {
            let reaped = waitpid(pid, &status, WNOHANG)
            if reaped == pid { return exitCode(status) }
            if reaped < 0 && errno != EINTR { return nil }
            if ContinuousClock.now >= deadline { return nil }
            usleep(20_000)
        }
    }

    private static func exitCode(_ status: Int32) -> Int32 {
        (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    }

    private static let spawnLock = NSLock()

    /// Runs `body` under the lock every spawn here takes: create pipes and mark them
    /// close-on-exec inside it, so no child spawned meanwhile inherits them.
    public static func withSpawnLock<T>(_ body: () throws -> T) rethrows -> T {
        spawnLock.lock()
        defer { spawnLock.unlock() }
        return try body()
    }

    private static func spawn(_ argv: [String], env: [String: String], actions: inout posix_spawn_file_actions_t) throws -> pid_t {
        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            cArgs.forEach { free($0) }
            cEnv.forEach { free($0) }
        }
        InheritedDescriptors.closeAll(in: &actions)
        var pid: pid_t = 0
        let result = posix_spawnp(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard result == 0 else {
            throw LocalClusterError("cannot start \(argv[0]): \(String(cString: strerror(result)))")
        }
        return pid
    }
}
