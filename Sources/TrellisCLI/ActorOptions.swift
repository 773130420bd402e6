import ArgumentParser
import Foundation

/// `--as PRINCIPAL`: who the CLI acts as. The CLI's database credentials are its trust
/// boundary; the SQL functions apply the same privilege checks to this principal as to
/// any other client.
struct ActorOptions: ParsableArguments {
    @Option(name: .customLong("as"), help: ArgumentHelp(
        "Principal to act as. Default: TRELLIS_PRINCIPAL, else the built-in admin.", valueName: "principal"))
    var principal: String?

    var name: String {
        if let principal, !principal.isEmpty { return principal }
        if let env = ProcessInfo.processInfo.environment["TRELLIS_PRINCIPAL"], !env.isEmpty { return env }
        return "admin"
    }
}
