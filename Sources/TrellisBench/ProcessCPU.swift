import Foundation

/// CPU time read from /proc, for the bench's per-node CPU figures: the database server's
/// (every live child of the postmaster, plus what the postmaster has reaped from children
/// that exited) and this process's reaped children's (the bench's scheduler processes,
/// once stopped). Unlike throughput it does not follow the disk (it does the CPU), and it
/// says which side — database or scheduler — a node's cost is on. Linux only; nil where
/// /proc cannot be read or the server is not on this host.
enum ProcessCPU {
    /// Clock ticks of one process: (utime + stime, cutime + cstime).
    private static func ticks(_ pid: Int32) -> (own: Double, reaped: Double, parent: Int32)? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name (which may hold spaces), from field 3 (state) on.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 14, let parent = Int32(fields[1]),
              let utime = Double(fields[11]), let stime = Double(fields[12]),
              let cutime = Double(fields[13]), let cstime = Double(fields[14]) else { return nil }
        return (utime + stime, cutime + cstime, parent)
    }

    private static var tick: Double { Double(sysconf(Int32(_SC_CLK_TCK))) }

    private static func command(_ pid: Int32) -> String? {
        (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// The postmaster of a backend on this host, from the backend's pid
    /// (`pg_backend_pid()`): its parent, when both are `postgres` processes.
    static func postmaster(ofBackend backend: Int32) -> Int32? {
        guard command(backend) == "postgres", let parent = ticks(backend)?.parent, command(parent) == "postgres" else { return nil }
        return parent
    }

    /// Seconds of CPU the server has used so far: the postmaster, its live children and
    /// the children it has reaped.
    static func serverSeconds(postmaster: Int32) -> Double? {
        guard let root = ticks(postmaster),
              let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        var total = root.own + root.reaped
        for entry in entries {
            guard let pid = Int32(entry), pid != postmaster, let child = ticks(pid), child.parent == postmaster else { continue }
            total += child.own + child.reaped
        }
        return total / tick
    }

    /// Seconds of CPU used by this process's children that have exited and been reaped.
    static func reapedChildrenSeconds() -> Double? {
        ticks(getpid()).map { $0.reaped / tick }
    }
}
