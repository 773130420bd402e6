import Foundation
import TrellisStore

/// A process running in the background (a `trellis` scheduler or relay, a test's agent),
/// stopped by a signal.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let stderrFile: URL
    public let stdoutFile: URL
    private var exitCode: Int32?

    /// Starts the built `trellis` binary with `arguments`.
    public convenience init(trellis arguments: [String], environment: [String: String] = [:]) throws {
        try self.init(executable: TrellisBinary.url.path, arguments, environment: environment)
    }

    /// Starts any program (a test's own agent or server) with `arguments`.
    public init(executable: String, _ arguments: [String], environment: [String: String] = [:]) throws {
        let name = "trellis-bg-\(UUID().uuidString.prefix(8))"
        stderrFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: name + ".log")
        stdoutFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: name + ".out")
        let inherited = ProcessInfo.processInfo.environment.keys.filter { $0.hasPrefix("TRELLIS_") && environment[$0] == nil }
        pid = try ProcessRunner.spawnBackground([executable] + arguments, environment: environment,
                                                removing: Array(inherited), stdoutFile: stdoutFile, stderrFile: stderrFile)
    }

    /// Sends `signal` and waits for the exit code.
    @discardableResult
    public func stop(_ signal: Int32 = SIGTERM) -> Int32 {
        if let exitCode { return exitCode }
        kill(pid, signal)
        let code = ProcessRunner.waitForExit(pid)
        exitCode = code
        return code
    }

    public var log: String { (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? "" }
    public var output: String { (try? String(contentsOf: stdoutFile, encoding: .utf8)) ?? "" }

    /// False once the process has exited (its code is kept for `stop`).
    public var isRunning: Bool {
        if exitCode != nil { return false }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return true }
        exitCode = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return false
    }

    deinit {
        if exitCode == nil {
            kill(pid, SIGKILL)
            _ = ProcessRunner.waitForExit(pid)
        }
        try? FileManager.default.removeItem(at: stderrFile)
        try? FileManager.default.removeItem(at: stdoutFile)
    }
}

/// Polls `condition` every 100 ms until it holds or `timeout` passes — waiting on a
/// state, never sleeping a fixed time and hoping.
public func waitUntil(timeout: Duration, _ what: String, _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        if ContinuousClock.now >= deadline {
            throw StoreError(code: .notFound, message: "timed out after \(timeout) waiting for \(what)")
        }
        try await Task.sleep(for: .milliseconds(100))
    }
}
