import Foundation
import Synchronization
import TrellisStore
#if canImport(Glibc)
import Glibc
#endif

/// The processes a chaos run owns: scheduler instances (SIGKILLed and restarted at will)
/// and one relay. It notices any that exits without being killed.
final class Fleet: Sendable {
    private struct Member {
        var pid: pid_t
        var name: String
        var log: URL
    }

    static let maxLostLeases = 10
    private let trellis: String
    private let directory: URL
    private let databaseURL: String
    private let lease: Int
    private let members = Mutex<[String: Member]>([:])
    private let exits = Mutex<[String]>([])
    private let generation = Atomic<Int>(0)

    init(trellis: String, directory: URL, databaseURL: String, lease: Int) {
        self.trellis = trellis
        self.directory = directory
        self.databaseURL = databaseURL
        self.lease = lease
    }

    /// Starts scheduler `index` (a new process, a new instance name).
    func startScheduler(_ index: Int) throws {
        let name = "chaos-\(index)-\(generation.add(1, ordering: .relaxed).newValue)"
        let log = directory.appending(path: "\(name).log")
        // A kill every 0.3–0.7 s is about a hundred times any real fleet's churn: a node
        // can lose its lease to four kills in a row by chance. The bound on lost leases
        // (trellis.max_lost_leases, 3; proved by WorkerLossTests) is raised to 10 for the
        // fleet's sessions, so the run checks the re-queueing itself, not the dice.
        let pid = try ProcessRunner.spawnBackground(
            [trellis, "scheduler", "--name", name, "--lease", String(lease), "--concurrency", "16", "--batch", "16",
             "--poll-interval", "200", "--allow-sql", "--database-url", databaseURL],
            environment: ["PGOPTIONS": "-c trellis.max_lost_leases=\(Self.maxLostLeases)"], stderrFile: log)
        members.withLock { $0["scheduler-\(index)"] = Member(pid: pid, name: name, log: log) }
    }

    /// Starts the relay on a free port; returns the port once it listens.
    func startRelay() async throws -> Int {
        let out = directory.appending(path: "relay.out"), log = directory.appending(path: "relay.log")
        let pid = try ProcessRunner.spawnBackground([trellis, "relay", "--port", "0", "--pool", "16", "--database-url", databaseURL],
                                                    stdoutFile: out, stderrFile: log)
        members.withLock { $0["relay"] = Member(pid: pid, name: "relay", log: log) }
        for _ in 0..<300 {
            if let text = try? String(contentsOf: out, encoding: .utf8),
               let range = text.range(of: #"listening on http://[^:]+:(\d+)"#, options: .regularExpression),
               let port = Int(text[range].split(separator: ":").last ?? "") {
                return port
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw ChaosError("the relay did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
    }

    /// SIGKILLs scheduler `index` and reaps it.
    func kill(_ index: Int) {
        guard let member = members.withLock({ $0.removeValue(forKey: "scheduler-\(index)") }) else { return }
        _ = Glibc.kill(member.pid, SIGKILL)
        _ = ProcessRunner.waitForExit(member.pid)
    }

    /// Members that exited although nobody killed them (checked without blocking).
    var unexpectedExits: [String] {
        let gone: [String] = members.withLock { members in
            var gone: [String] = []
            for (key, member) in members {
                var status: Int32 = 0
                if waitpid(member.pid, &status, WNOHANG) == member.pid {
                    let tail = ((try? String(contentsOf: member.log, encoding: .utf8)) ?? "").suffix(400)
                    gone.append("\(member.name) (status \(status)): \(tail)")
                    members[key] = nil
                }
            }
            return gone
        }
        return exits.withLock { $0 += gone; return $0 }
    }

    /// SIGTERMs everyone and waits; returns those that did not exit 0. A scheduler started
    /// a moment ago is first given time to reach its first log line: a SIGTERM that lands
    /// before the process has set up its signal handling (in the runtime's start-up) takes
    /// the default action, which says nothing about the scheduler's graceful stop.
    func stopAll() -> [String] {
        let all = members.withLock { members in defer { members = [:] }; return members }
        for (key, member) in all where key.hasPrefix("scheduler-") {
            let deadline = ContinuousClock.now + .seconds(15)
            while ((try? FileManager.default.attributesOfItem(atPath: member.log.path)[.size] as? Int) ?? 0) == 0,
                  ContinuousClock.now < deadline {
                usleep(20_000)
            }
        }
        let everyone = Array(all.values)
        for member in everyone { _ = Glibc.kill(member.pid, SIGTERM) }
        var failed: [String] = []
        for member in everyone {
            let status = ProcessRunner.waitForExit(member.pid)
            if status != 0 {
                let tail = ((try? String(contentsOf: member.log, encoding: .utf8)) ?? "").suffix(400)
                failed.append("\(member.name) exited \(status): \(tail)")
            }
        }
        return failed
    }

    func killAll() {
        let all = members.withLock { members in defer { members = [:] }; return Array(members.values) }
        for member in all {
            _ = Glibc.kill(member.pid, SIGKILL)
            _ = ProcessRunner.waitForExit(member.pid)
        }
    }
}
