import Foundation
import TrellisStore

#if canImport(Glibc)
import Glibc
#endif

/// A child program for the `shell` handler: its own process group (so a kill reaches
/// everything it started), stdin on /dev/null, stdout and stderr read through pipes and
/// kept only up to a cap while reading — a chatty program cannot fill memory or disk.
struct ChildProcess: Sendable {
    struct Result: Sendable {
        var status: Int32
        var stdout: Data
        var stderr: Data
        var stdoutCut: Bool
        var stderrCut: Bool
    }

    let pid: pid_t
    private let stdoutFD: Int32
    private let stderrFD: Int32

    /// Starts `argv` (PATH lookup, no shell).
    static func start(_ argv: [String]) throws -> ChildProcess {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        return try ProcessRunner.withSpawnLock {
            guard pipe(&out) == 0 else { throw HandlerError(code: "spawn_failed", message: "pipe() failed: errno \(errno)", retryable: true) }
            guard pipe(&err) == 0 else {
                close(out[0]); close(out[1])
                throw HandlerError(code: "spawn_failed", message: "pipe() failed: errno \(errno)", retryable: true)
            }
            for fd in out + err { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            var actions = posix_spawn_file_actions_t()
            posix_spawn_file_actions_init(&actions)
            defer { posix_spawn_file_actions_destroy(&actions) }
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
            posix_spawn_file_actions_adddup2(&actions, out[1], 1)
            posix_spawn_file_actions_adddup2(&actions, err[1], 2)
            // The command gets 0, 1 and 2 only: none of the scheduler's connections.
            InheritedDescriptors.closeAll(in: &actions)
            var attributes = posix_spawnattr_t()
            posix_spawnattr_init(&attributes)
            defer { posix_spawnattr_destroy(&attributes) }
            posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETPGROUP))
            posix_spawnattr_setpgroup(&attributes, 0)  // a new group led by the child
            let cArgs = argv.map { strdup($0) } + [nil]
            let cEnv = ProcessInfo.processInfo.environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
            defer {
                cArgs.forEach { free($0) }
                cEnv.forEach { free($0) }
            }
            var pid: pid_t = 0
            let result = posix_spawnp(&pid, argv[0], &actions, &attributes, cArgs, cEnv)
            close(out[1]); close(err[1])
            guard result == 0 else {
                close(out[0]); close(err[0])
                throw HandlerError(code: "spawn_failed", message: "cannot start \(argv[0]): \(String(cString: strerror(result)))", retryable: false)
            }
            return ChildProcess(pid: pid, stdoutFD: out[0], stderrFD: err[0])
        }
    }

    /// Kills the child's whole process group.
    func kill() {
        _ = Glibc.kill(-pid, SIGKILL)
    }

    /// Reads both streams to their end (keeping `cap` bytes of each), then reaps the
    /// child. Blocking: call it off the cooperative pool.
    func finish(cap: Int) -> Result {
        var kept = [Data(), Data()]
        var cut = [false, false]
        var open = [stdoutFD, stderrFD]
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while open.contains(where: { $0 >= 0 }) {
            var fds = open.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            let ready = poll(&fds, nfds_t(fds.count), 1_000)
            if ready < 0 && errno != EINTR { break }
            for index in 0..<2 where open[index] >= 0 && fds[index].revents != 0 {
                let count = read(open[index], &buffer, buffer.count)
                if count > 0 {
                    let room = max(0, cap - kept[index].count)
                    if room > 0 { kept[index].append(contentsOf: buffer[0..<min(room, count)]) }
                    if count > room { cut[index] = true }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(open[index])
                    open[index] = -1
                }
            }
        }
        let status = ProcessRunner.waitForExit(pid)
        return Result(status: status, stdout: kept[0], stderr: kept[1], stdoutCut: cut[0], stderrCut: cut[1])
    }
}
