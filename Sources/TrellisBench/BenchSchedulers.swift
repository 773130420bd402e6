import Foundation
import TrellisPQ
import TrellisStore
#if canImport(Glibc)
import Glibc
#endif

/// `trellis scheduler` processes for a bench workload, started as a user starts them (own
/// process, own connections) with the flags under test, and stopped with SIGTERM.
struct BenchSchedulers {
    let pids: [pid_t]
    let names: [String]
    let logs: [URL]

    /// Starts `count` schedulers serving `echo` and waits until each has registered.
    static func start(count: Int, trellis: String, databaseURL: String, flags: [String], directory: URL,
                      connection: PGConnection) async throws -> BenchSchedulers {
        let tag = String(UInt32.random(in: 0...UInt32.max), radix: 36)
        var pids: [pid_t] = [], names: [String] = [], logs: [URL] = []
        for index in 0..<count {
            let name = "bench-\(tag)-\(index)"
            let log = directory.appending(path: "\(name).log")
            pids.append(try ProcessRunner.spawnBackground(
                [trellis, "scheduler", "--name", name, "--handlers", "echo", "--database-url", databaseURL] + flags, stderrFile: log))
            names.append(name)
            logs.append(log)
        }
        let fleet = BenchSchedulers(pids: pids, names: names, logs: logs)
        for _ in 0..<600 {
            if try await connection.bench(BenchQuery.liveSchedulers, [names]).single().decode("live", as: Int.self) == count {
                return fleet
            }
            if let exited = fleet.exited() {
                throw BenchError("a bench scheduler exited at start-up: \(exited)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        await fleet.stop()
        throw BenchError("the bench schedulers did not register within 30 s: \(fleet.tails())")
    }

    /// A scheduler that has exited (checked without blocking), with its log's tail.
    func exited() -> String? {
        for (pid, log) in zip(pids, logs) {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                return "status \(status): " + String(((try? String(contentsOf: log, encoding: .utf8)) ?? "").suffix(600))
            }
        }
        return nil
    }

    func tails() -> String {
        logs.map { String(((try? String(contentsOf: $0, encoding: .utf8)) ?? "").suffix(300)) }.joined(separator: " | ")
    }

    /// SIGTERM (a graceful stop: report, release, deregister), then wait for every exit.
    func stop() async {
        for pid in pids { _ = kill(pid, SIGTERM) }
        let pids = self.pids
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                for pid in pids { _ = ProcessRunner.waitForExit(pid) }
                continuation.resume()
            }
        }
    }
}

/// A bench that could not run or whose result is not trustworthy.
public struct BenchError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
