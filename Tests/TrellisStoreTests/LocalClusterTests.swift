import Foundation
import Testing
import TrellisPQ
import TrellisStore

@Suite("Embedded local cluster")
struct LocalClusterTests {
    /// A descriptor this process opened without close-on-exec (as libcurl opens its
    /// sockets) stays out of every program spawned here: a postmaster or a background
    /// process would otherwise hold it open for as long as it runs.
    @Test func spawnedProgramsInheritOnlyStandardDescriptors() throws {
        #expect(InheritedDescriptors.closedInChildren)
        let probe = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let leaked = fcntl(probe, F_DUPFD, 250)  // high, so it cannot be ls's own directory
        close(probe)
        defer { close(leaked) }
        #expect(leaked >= 250 && fcntl(leaked, F_GETFD) & FD_CLOEXEC == 0)
        let listing = try ProcessRunner().run(URL(fileURLWithPath: "/bin/ls"), ["/proc/self/fd"])
        #expect(listing.status == 0)
        let open = Set(listing.output.split(separator: "\n").compactMap { Int($0) })
        #expect(!open.contains(Int(leaked)), "the child inherited descriptor \(leaked): \(open.sorted())")
        #expect(open.isSubset(of: [0, 1, 2, 3]), "\(open.sorted())")  // 3: ls's own listing
    }

    /// A bounded wait for a background child: nil while it outlives the wait (a process
    /// that ignores SIGTERM, which `exec` keeps), its exit code once it is gone (128 + the signal).
    @Test func aBoundedWaitReportsAChildThatWillNotStop() throws {
        let log = FileManager.default.temporaryDirectory.appending(path: "stubborn-\(getpid()).log")
        defer { try? FileManager.default.removeItem(at: log) }
        let pid = try ProcessRunner.spawnBackground(["/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30"], stdoutFile: log, stderrFile: log)
        let ready = ContinuousClock.now + .seconds(10)
        while (try? String(contentsOf: log, encoding: .utf8))?.contains("ready") != true, ContinuousClock.now < ready { usleep(10_000) }
        kill(pid, SIGTERM)
        #expect(ProcessRunner.waitForExit(pid, timeout: .milliseconds(300)) == nil, "the trap ignores SIGTERM")
        kill(pid, SIGKILL)
        #expect(ProcessRunner.waitForExit(pid, timeout: .seconds(10)) == 128 + SIGKILL)
    }

    @Test func startsIsReusedAndStops() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-cluster-\(UUID().uuidString.prefix(8))")
        let cluster = LocalCluster(directory: directory, settings: ["fsync": "off"], fastInit: true)
        defer {
            _ = try? cluster.stop(immediate: true)
            try? FileManager.default.removeItem(at: directory)
        }
        #expect(try cluster.state() == .notInitialized)

        let first = try await cluster.start()
        #expect(first.started)
        guard case .running(let port) = try cluster.state() else {
            Issue.record("cluster not running after start")
            return
        }
        #expect(first.url == LocalCluster.url(port: port))
        let conn = try await PGConnection.connect(first.url)
        let database = try await conn.query("SELECT current_database() AS db").single().decode("db", as: String.self)
        #expect(database == "trellis")
        await conn.close()

        let again = try await cluster.start()
        #expect(again.started == false)
        #expect(again.url == first.url)

        #expect(try cluster.stop())
        #expect(try cluster.state() == .stopped)
        #expect(try cluster.stop() == false)
        await #expect(throws: PGError.self) { _ = try await PGConnection.connect(first.url + "?connect_timeout=2") }

        // Restarting keeps the data and, when still free, the port.
        let restarted = try await cluster.start()
        #expect(restarted.started)
        #expect(restarted.url == first.url)
        #expect(try cluster.stop())
    }
}
