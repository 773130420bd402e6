import Foundation
import Synchronization
import TrellisStore
#if canImport(Glibc)
import Glibc
#endif

/// The `trellis` processes a driver owns — scheduler instances (for chaos: SIGKILLed and
/// restarted at will) and, for chaos, one relay — each with its log in `directory`. It
/// notices any that exits without being killed, and stops them all with SIGTERM.
final class Fleet: Sendable {
    private struct Member {
        var pid: pid_t
        var name: String
        var log: URL
    }

    private let trellis: String
    private let directory: URL
    private let databaseURL: String
    private let namePrefix: String
    private let schedulerArguments: [String]
    private let environment: [String: String]
    private let members = Mutex<[String: Member]>([:])
    private let exits = Mutex<[String]>([])
    private let generation = Atomic<Int>(0)
    /// How long `stopAll` waits after SIGTERM: a scheduler's default grace (30 s), a
    /// backoff and its last report, with room to spare.
    static let stopTimeout: Duration = .seconds(90)

    /// Schedulers run `trellis scheduler --name <prefix>-<index>-<generation>
    /// --database-url <url> <schedulerArguments>` with `environment` added to their own.
    init(trellis: String, directory: URL, databaseURL: String, namePrefix: String, schedulerArguments: [String],
         environment: [String: String] = [:]) {
        self.trellis = trellis
        self.directory = directory
        self.databaseURL = databaseURL
        self.namePrefix = namePrefix
        self.schedulerArguments = schedulerArguments
        self.environment = environment
    }

    /// Starts scheduler `index` (a new process, a new instance name); returns the name.
    @discardableResult
    func startScheduler(_ index: Int) throws -> String {
        let name = "\(namePrefix)-\(index)-\(generation.add(1, ordering: .relaxed).newValue)"
        let log = directory.appending(path: "\(name).log")
        let pid = try ProcessRunner.spawnBackground(
            [trellis, "scheduler", "--name", name, "--database-url", databaseURL] + schedulerArguments,
            environment: environment, stderrFile: log)
        members.withLock { $0["scheduler-\(index)"] = Member(pid: pid, name: name, log: log) }
        return name
    }

    /// Starts the relay on a free port; returns the port once it listens.
    func startRelay() async throws -> Int {
        let out = directory.appending(path: "relay.out"), log = directory.appending(path: "relay.log")
        // The chaos subscribers (up to 2,000, dropping and resuming) share one principal:
        // the whole relay is theirs, not one principal's default share of it.
        let pid = try ProcessRunner.spawnBackground([trellis, "relay", "--port", "0", "--pool", "16",
                                                     "--max-streams-per-principal", "10000", "--database-url", databaseURL],
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
        throw ChaosError("the relay did not start: \(Self.tail(of: log, 10_000))")
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
                    gone.append("\(member.name) (status \(status)): \(Self.tail(of: member.log))")
                    members[key] = nil
                }
            }
            return gone
        }
        return exits.withLock { $0 += gone; return $0 }
    }

    /// The ends of every member's log, for a message.
    var logTails: String {
        members.withLock { $0.values.map { "\($0.name): \(Self.tail(of: $0.log, 300))" } }.joined(separator: " | ")
    }

    /// The end of a member's log, for messages.
    static func tail(of log: URL, _ characters: Int = 400) -> String {
        String(((try? String(contentsOf: log, encoding: .utf8)) ?? "").suffix(characters))
    }

    /// SIGTERMs everyone and waits (on a thread of its own, not the caller's); returns
    /// those that did not exit 0. A scheduler started a moment ago is first given time to
    /// reach its first log line: a SIGTERM that lands before the process has set up its
    /// signal handling (in the runtime's start-up) takes the default action, which says
    /// nothing about the scheduler's graceful stop.
    func stopAll() async -> [String] {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread { continuation.resume(returning: self.stopAllBlocking()) }
        }
    }

    private func stopAllBlocking() -> [String] {
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
        // A process that outlives SIGTERM by far more than its shutdown grace (30 s) is
        // reported and killed, not waited for: one that never stopped once held a chaos run
        // (and would have held `make test`) until killed by hand.
        let deadline = ContinuousClock.now + Self.stopTimeout
        for member in everyone {
            let left = max(deadline - ContinuousClock.now, .zero)
            if let status = ProcessRunner.waitForExit(member.pid, timeout: left) {
                if status != 0 { failed.append("\(member.name) exited \(status): \(Self.tail(of: member.log))") }
            } else {
                Self.kill(member)
                failed.append("\(member.name) did not stop within \(Self.stopTimeout) of SIGTERM (killed): \(Self.tail(of: member.log))")
            }
        }
        return failed
    }

    func killAll() {
        let all = members.withLock { members in defer { members = [:] }; return Array(members.values) }
        for member in all { Self.kill(member) }
    }

    /// SIGKILL, then reap (no zombie left behind).
    private static func kill(_ member: Member) {
        _ = Glibc.kill(member.pid, SIGKILL)
        _ = ProcessRunner.waitForExit(member.pid)
    }
}
