import ArgumentParser
import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

/// `trellis schedule …`: runs on a timetable. Any running scheduler instance fires them.
struct ScheduleCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule",
        abstract: "Run workflows on a timetable (cron with a time zone); schedulers fire them.",
        subcommands: [Create.self, List.self, Show.self, Pause.self, Resume.self, Delete.self]
    )

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a schedule: runs of a workflow, started as you, at the ticks of a cron expression.",
            discussion: """
                CRON has 5 fields (minute hour day-of-month month day-of-week), or 6 with seconds first, \\
                or a macro (@hourly, @daily, @weekly, @monthly, @yearly); names (jan, mon) and ranges, \\
                steps and lists work as in cron. It is read as wall-clock time in --timezone: a time that \\
                occurs twice when clocks go back fires once (the second time); a time skipped when clocks \\
                go forward fires the length of the gap later (02:30 becomes 03:30). --catch-up says what \\
                happens to ticks missed while no scheduler ran: skip them, run one (the latest, default), \\
                or run all (the latest --catch-up-max). Each tick starts exactly one run, whatever the \\
                number of schedulers.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Schedule name.") var name: String
        @Option(help: "Workflow to run.") var workflow: String
        @Option(help: "Cron expression, e.g. \"0 9 * * mon-fri\" or \"*/10 * * * * *\".") var cron: String
        @Option(help: "IANA time zone the expression is read in.") var timezone = "UTC"
        @Option(help: "Run input: a JSON object, or @FILE.") var input = "{}"
        @Option(help: "Missed ticks: skip, one or all.") var catchUp = "one"
        @Option(help: "With --catch-up all: run at most this many missed ticks (1-1000).") var catchUpMax = 10

        func run() async throws {
            var spec = ScheduleStore.Spec(name: name, workflow: workflow, cron: cron)
            spec.timezone = timezone
            spec.input = input.hasPrefix("@") ? try InputFile.json(String(input.dropFirst())) : input
            spec.catchUp = catchUp
            spec.catchUpMax = catchUpMax
            let document = try await connection.withConnection { conn in
                try await CLIErrors.json("--input") { try await ScheduleStore(connection: conn).create(spec, as: actor.name) }
            }
            let schedule = try document.decode(JSONValue.self)
            print("created schedule \(name): next \(ScheduleCommand.upcoming(schedule))")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the schedules you may see.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Flag(help: "Print JSON instead of a table.") var json = false

        func run() async throws {
            let document = try await connection.withConnection { try await ScheduleStore(connection: $0).list(as: actor.name) }
            if json {
                print(document.text)
                return
            }
            var table = TextTable(headers: ["NAME", "WORKFLOW", "CRON", "TIMEZONE", "STATE", "NEXT", "FIRES", "LAST ERROR"])
            for item in try document.decode(JSONValue.self).arrayValue ?? [] {
                table.append([item["name"]?.stringValue ?? "", item["workflow"]?.stringValue ?? "", item["cron"]?.stringValue ?? "",
                              item["timezone"]?.stringValue ?? "", item["enabled"]?.boolValue == true ? "active" : "paused",
                              item["next_fire_at"]?.stringValue ?? "", item["fires"].map { ScheduleCommand.number($0) } ?? "0",
                              item["last_error"]?.stringValue ?? ""])
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a schedule, its next ticks and its last fires.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Schedule name.") var name: String
        @Flag(help: "Print JSON.") var json = false

        func run() async throws {
            let document = try await connection.withConnection { try await ScheduleStore(connection: $0).show(name, as: actor.name) }
            if json {
                print(document.text)
                return
            }
            let s = try document.decode(JSONValue.self)
            print("schedule \(name)  \(s["workflow"]?.stringValue ?? "")  \"\(s["cron"]?.stringValue ?? "")\" \(s["timezone"]?.stringValue ?? "")  "
                  + (s["enabled"]?.boolValue == true ? "active" : "paused"))
            print("owner \(s["owner"]?.stringValue ?? ""), catch-up \(s["catch_up"]?.stringValue ?? "")"
                  + (s["catch_up"]?.stringValue == "all" ? " (at most \(s["catch_up_max"].map { ScheduleCommand.number($0) } ?? ""))" : "")
                  + ", \(s["fires"].map { ScheduleCommand.number($0) } ?? "0") run(s) started")
            print("next: \(ScheduleCommand.upcoming(s))")
            if let error = s["last_error"]?.stringValue { print("last error: \(error)") }
            var table = TextTable(headers: ["TICK", "RUN", "STATUS"])
            for fire in s["recent_fires"]?.arrayValue ?? [] {
                table.append([fire["tick"]?.stringValue ?? "", fire["run_id"]?.stringValue ?? "", fire["status"]?.stringValue ?? ""])
            }
            print(table.render())
        }
    }

    struct NameOptions: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Schedule name.") var name: String

        func setEnabled(_ enabled: Bool) async throws {
            let document = try await connection.withConnection {
                try await ScheduleStore(connection: $0).setEnabled(name, enabled, as: actor.name)
            }
            let s = try document.decode(JSONValue.self)
            print(enabled ? "resumed schedule \(name): next \(ScheduleCommand.upcoming(s))" : "paused schedule \(name)")
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a schedule (its ticks until resume are not run).")
        @OptionGroup var options: NameOptions
        func run() async throws { try await options.setEnabled(false) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused schedule from its next tick.")
        @OptionGroup var options: NameOptions
        func run() async throws { try await options.setEnabled(true) }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a schedule (the runs it started stay).")
        @OptionGroup var options: NameOptions
        func run() async throws {
            try await options.connection.withConnection { try await ScheduleStore(connection: $0).delete(options.name, as: options.actor.name) }
            print("deleted schedule \(options.name)")
        }
    }

    /// The next ticks of a schedule document, or "none".
    static func upcoming(_ schedule: JSONValue) -> String {
        let ticks = (schedule["upcoming"]?.arrayValue ?? []).compactMap(\.stringValue)
        return ticks.isEmpty ? "none" : ticks.joined(separator: ", ")
    }

    static func number(_ value: JSONValue) -> String {
        value.doubleValue.map { String(Int($0)) } ?? ""
    }
}
