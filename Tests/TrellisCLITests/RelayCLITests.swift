import Foundation
import Testing
import TrellisTestSupport

/// `trellis relay`'s flags through the built binary: out-of-range values are refused before
/// anything starts, with the flag named and a non-zero exit.
@Suite("trellis relay flags (binary)")
struct RelayCLITests {
    @Test func outOfRangeFlagsAreRefusedByName() throws {
        let cases: [([String], String)] = [
            (["--send-timeout=-1"], "--send-timeout must be 0 to 3600 seconds"),
            (["--send-timeout", "3601"], "--send-timeout must be 0 to 3600 seconds"),
            (["--port", "70000"], "--port must be 0 to 65535"),
            (["--pool", "0"], "--pool must be at least 1"),
            (["--max-streams", "0"], "--max-streams must be at least 1"),
            (["--backlog", "0"], "--backlog must be 1 to 65535"),
            (["--schema-check-interval=-1"], "--schema-check-interval must be 0 to 86400 seconds"),
            (["--max-streams-per-principal", "0"], "--max-streams-per-principal must be 1 to --max-streams (10000)"),
            (["--max-streams", "50", "--max-streams-per-principal", "51"], "--max-streams-per-principal must be 1 to --max-streams (50)"),
        ]
        for (flags, says) in cases {
            // An address no interface has: were the flags accepted, the relay would fail at
            // once binding it, with another message, instead of starting to serve.
            let refused = try TrellisBinary.run(["relay", "--host", "203.0.113.1"] + flags
                                                + ["--database-url", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1"])
            #expect(refused.status != 0, "\(flags)")
            #expect(refused.stderr.split(separator: "\n").first?.contains(says) == true, "\(flags): \(refused.stderr.prefix(300))")
        }
        let help = try TrellisBinary.run(["relay", "--help"])
        #expect(help.status == 0 && help.stdout.contains("--send-timeout") && help.stdout.contains("--max-streams-per-principal")
                && help.stdout.contains("--schema-check-interval"))
    }
}
