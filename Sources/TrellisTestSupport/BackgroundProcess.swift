import Foundation
import TrellisStore

/// A `trellis` process running in the background (a scheduler), stopped by a signal.
public final class BackgroundProcess: @unchecked Sendable {
    public let pid: pid_t
    public let stderrFile: URL
    private var exitCode: Int32?

    /// Starts the built `trellis` binary with `arguments`.
    public init(trellis arguments: [String], environment: [String: String] = [:]) throws {
        stderrFile = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-bg-\(UUID().uuidString.prefix(8)).log")
        let inherited = ProcessInfo.processInfo.environment.keys.filter { $0.hasPrefix("TRELLIS_") && environment[$0] == nil }
        pid = try ProcessRunner.spawnBackground([TrellisBinary.url.path] + arguments, environment: environment,
                                                removing: Array(inherited), stderrFile: stderrFile)
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

    deinit {
        if exitCode == nil {
            kill(pid, SIGKILL)
            _ = ProcessRunner.waitForExit(pid)
        }
        try? FileManager.default.removeItem(at: stderrFile)
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
