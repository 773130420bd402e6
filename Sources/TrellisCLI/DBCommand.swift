import ArgumentParser
import Foundation
import TrellisStore

struct DBCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "db",
        abstract: "Manage the private local PostgreSQL cluster under ./.trellis (or TRELLIS_HOME).",
        subcommands: [Start.self, Stop.self, Status.self, URLCommand.self]
    )

    static var locator: DatabaseLocator { DatabaseLocator(explicitURL: nil) }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Initialise (first time) and start the local cluster.")
        func run() async throws {
            let locator = DBCommand.locator
            let (url, started) = try await locator.localCluster.start()
            print(started ? "started local PostgreSQL in \(locator.localHome.path)" : "already running in \(locator.localHome.path)")
            print(url)
        }
    }

    struct Stop: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop the local cluster (data is kept).")
        func run() async throws {
            let locator = DBCommand.locator
            print(try locator.localCluster.stop() ? "stopped local PostgreSQL in \(locator.localHome.path)" : "not running")
        }
    }

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show whether the local cluster runs (exit 3 when it does not, like pg_ctl).")
        func run() async throws {
            let locator = DBCommand.locator
            switch try locator.localCluster.state() {
            case .running(let port):
                print("running on 127.0.0.1:\(port) in \(locator.localHome.path)")
                print(LocalCluster.url(port: port))
            case .stopped:
                print("stopped (\(locator.localHome.path)); start it with `trellis db start`")
                throw ExitCode(3)
            case .notInitialized:
                print("not initialised (\(locator.localHome.path)); `trellis db start` creates it")
                throw ExitCode(3)
            }
        }
    }

    struct URLCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "url",
            abstract: "Print the database URL commands use (starting the local cluster if needed).",
            discussion: "Handy as `psql \"$(trellis db url)\"`.")
        @OptionGroup var connection: ConnectionOptions
        func run() async throws {
            print(try await connection.locator.resolve { Console.note($0) })
        }
    }
}
