import Foundation
import Testing
import TrellisStore
import TrellisTestSupport

/// The deployment recipe: `make install-files` lays out the binary, systemd units, the
/// environment file and shell completions, and the installed units pass
/// `systemd-analyze verify` without a single warning.
@Suite("make install and the systemd units")
struct DeploymentTests {
    private var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    private func run(_ argv: [String], in directory: URL? = nil) throws -> (status: Int32, output: String, errors: String) {
        let result = try TrellisBinary.run(Array(argv.dropFirst()), workingDirectory: directory, binary: URL(fileURLWithPath: argv[0]))
        return (result.status, result.stdout, result.stderr)
    }

    @Test func installsAVerifiedLayout() throws {
        let destination = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-install-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: destination) }
        let products = TrellisBinary.url.deletingLastPathComponent().lastPathComponent  // "debug" or "release"
        let make = ["/usr/bin/make", "--no-print-directory", "install-files", "CONFIG=\(products)", "DESTDIR=\(destination.path)", "PREFIX=/usr"]
        let installed = try run(make, in: packageRoot)
        #expect(installed.status == 0, "\(installed.errors)")

        let files = ["usr/bin/trellis": 0o755, "etc/systemd/system/trellis-scheduler@.service": 0o644,
                     "etc/systemd/system/trellis-relay.service": 0o644, "etc/trellis/trellis.env": 0o640,
                     "usr/share/bash-completion/completions/trellis": nil, "usr/share/zsh/site-functions/_trellis": nil,
                     "usr/share/fish/vendor_completions.d/trellis.fish": nil] as [String: Int?]
        for (path, mode) in files {
            let attributes = try? FileManager.default.attributesOfItem(atPath: destination.appending(path: path).path)
            #expect(attributes != nil, "\(path) was not installed")
            if let mode, let actual = attributes?[.posixPermissions] as? Int { #expect(actual == mode, "\(path): mode \(String(actual, radix: 8))") }
        }
        let scheduler = try String(contentsOf: destination.appending(path: "etc/systemd/system/trellis-scheduler@.service"), encoding: .utf8)
        #expect(scheduler.contains("ExecStart=/usr/bin/trellis scheduler --name %H-%i --metrics-port %i"))
        // A scheduler or relay deployed before its migration keeps being restarted (refused
        // for its schema) until `migrate up` has run, instead of hitting systemd's start limit.
        let relay = try String(contentsOf: destination.appending(path: "etc/systemd/system/trellis-relay.service"), encoding: .utf8)
        for unit in [scheduler, relay] { #expect(unit.contains("StartLimitIntervalSec=0") && unit.contains("Restart=always"), "\(unit)") }
        // Completions: the bash one parses, every shell's names the commands.
        #expect(try run(["/bin/bash", "-n", destination.appending(path: "usr/share/bash-completion/completions/trellis").path]).status == 0)
        for path in ["usr/share/bash-completion/completions/trellis", "usr/share/zsh/site-functions/_trellis", "usr/share/fish/vendor_completions.d/trellis.fish"] {
            let script = try String(contentsOf: destination.appending(path: path), encoding: .utf8)
            #expect(script.contains("scheduler") && script.contains("status"), "\(path)")
        }

        // systemd-analyze verify needs the binary and the environment file where the units
        // say: point them into the destination (and name the template instance).
        let units = destination.appending(path: "verify")
        try FileManager.default.createDirectory(at: units, withIntermediateDirectories: true)
        for (source, target) in [("trellis-scheduler@.service", "trellis-scheduler@9464.service"), ("trellis-relay.service", "trellis-relay.service")] {
            let text = try String(contentsOf: destination.appending(path: "etc/systemd/system/\(source)"), encoding: .utf8)
                .replacingOccurrences(of: "/usr/bin/trellis", with: destination.appending(path: "usr/bin/trellis").path)
                .replacingOccurrences(of: "/etc/trellis/trellis.env", with: destination.appending(path: "etc/trellis/trellis.env").path)
            try text.write(to: units.appending(path: target), atomically: true, encoding: .utf8)
        }
        let analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].first { FileManager.default.isExecutableFile(atPath: $0) }
        try #require(analyze != nil, "systemd-analyze is missing (scripts/install-deps.sh installs systemd)")
        let verified = try run([analyze!, "verify", "--man=no", units.appending(path: "trellis-scheduler@9464.service").path,
                                units.appending(path: "trellis-relay.service").path])
        #expect(verified.status == 0 && verified.errors.isEmpty, "systemd-analyze: \(verified.errors)")
        // A unit with a mistake is caught (the check can fail).
        let broken = try String(contentsOf: units.appending(path: "trellis-relay.service"), encoding: .utf8)
            .replacingOccurrences(of: "ExecReload=", with: "ExecReloda=")
        try broken.write(to: units.appending(path: "trellis-broken.service"), atomically: true, encoding: .utf8)
        let caught = try run([analyze!, "verify", "--man=no", units.appending(path: "trellis-broken.service").path])
        #expect(caught.errors.contains("Unknown key"), "\(caught.errors)")

        // Installing again keeps an edited environment file.
        try "TRELLIS_DATABASE_URL=postgresql://edited\n".write(to: destination.appending(path: "etc/trellis/trellis.env"), atomically: true, encoding: .utf8)
        #expect(try run(make, in: packageRoot).status == 0)
        #expect(try String(contentsOf: destination.appending(path: "etc/trellis/trellis.env"), encoding: .utf8).contains("edited"))
    }
}
