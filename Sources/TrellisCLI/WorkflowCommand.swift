import ArgumentParser
import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

struct WorkflowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "workflow",
        abstract: "Validate, publish and inspect workflow definitions (JSON or YAML).",
        subcommands: [Validate.self, Publish.self, List.self, Show.self, Export.self, Limits.self, Retention.self]
    )

    struct Validate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List every problem in a definition file (exit 1 when there are any); stores nothing.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Definition file (.json, .yaml; - for stdin).") var file: String

        func run() async throws {
            let json = try InputFile.json(file)
            let problems = try await connection.withConnection { conn in
                try await CLIErrors.json(file) { try await WorkflowStore(connection: conn).validate(definition: json) }
            }
            if problems.isEmpty {
                print("\(file): valid")
                return
            }
            var table = TextTable(headers: ["CODE", "ITEM", "PROBLEM"])
            for problem in problems { table.append([problem.code, problem.item, problem.message]) }
            print("\(file): \(problems.count) problem(s)")
            print(table.render())
            throw ExitCode.failure
        }
    }

    struct Publish: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Publish a definition as a new immutable version (an identical one returns the existing version).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Definition file (.json, .yaml; - for stdin).") var file: String

        func run() async throws {
            let json = try InputFile.json(file)
            let published = try await connection.withConnection { conn in
                try await CLIErrors.json(file) { try await WorkflowStore(connection: conn).publish(definition: json, as: actor.name) }
            }
            print(WorkflowCommand.describe(published))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List workflows with their latest version and run count.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let workflows = try await connection.withConnection { try await WorkflowStore(connection: $0).list() }
            var table = TextTable(headers: ["NAME", "LATEST", "PUBLISHED AT", "OWNER", "RUNS", "DESCRIPTION"])
            for workflow in workflows {
                table.append([
                    workflow.name, workflow.latestVersion.map { "v\($0)" } ?? "-", Console.timestamp(workflow.publishedAt),
                    workflow.owner ?? "", String(workflow.runs), workflow.description,
                ])
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a version's nodes by execution level, with their edges.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Workflow name.") var name: String
        @Option(help: "Version (default: the latest).") var version: Int?

        func run() async throws {
            let (detail, retention) = try await connection.withConnection {
                (try await WorkflowStore(connection: $0).version(name, version: version), try await HistoryStore(connection: $0).retention(of: name))
            }
            print(WorkflowCommand.render(detail))
            print("retention: \(retention.description)")
        }
    }

    struct Retention: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or set how long finished runs of a workflow are kept; schedulers remove the rest.",
            discussion: """
                Without options, prints the policy in force. --keep-days N removes finished runs older than N \
                days, --keep-runs N all but the newest N finished runs; with both, a run goes when it is past \
                either. --clear removes the workflow's own policy (the default applies again). --default sets the \
                policy of every workflow without one (administrators); a workflow's own needs admin on it. \
                Running schedulers apply policies in batches of 500, one instance at a time; `trellis prune` \
                stays for removing by age by hand.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Workflow name (omit with --default).") var name: String?
        @Flag(name: .customLong("default"), help: "The default policy instead of one workflow's.") var isDefault = false
        @Option(help: "Keep finished runs this many days.") var keepDays: Int?
        @Option(help: "Keep the newest this many finished runs.") var keepRuns: Int?
        @Flag(help: "Remove the policy.") var clear = false

        func validate() throws {
            guard isDefault != (name != nil) else { throw ValidationError("name a workflow, or give --default") }
            guard !(clear && (keepDays != nil || keepRuns != nil)) else { throw ValidationError("--clear cannot be given with --keep-days or --keep-runs") }
        }

        func run() async throws {
            let policy = try await connection.withConnection { conn in
                let store = HistoryStore(connection: conn)
                if !clear && keepDays == nil && keepRuns == nil {
                    guard let name else { return try await store.defaultRetention() }
                    return try await store.retention(of: name)
                }
                return try await store.setRetention(name, keepDays: keepDays, keepRuns: keepRuns, as: actor.name)
            }
            print("\(name ?? "default"): retention: \(policy.description)")
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a version's definition as JSON; publishing it again gives the same checksum.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Workflow name.") var name: String
        @Option(help: "Version (default: the latest).") var version: Int?

        func run() async throws {
            let detail = try await connection.withConnection { try await WorkflowStore(connection: $0).version(name, version: version) }
            print(detail.prettyDefinition)
        }
    }

    struct Limits: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show or set a workflow's concurrency limits (runs started at once, nodes running at once).",
            discussion: """
                Without options, prints the limits and what holds them now. --max-runs N keeps later runs \
                queued until a slot frees (admitted in claim order); --max-nodes N caps the workflow's running \
                nodes across all its runs; `none` removes a limit. Options not given keep their value. \
                Needs admin on the workflow.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Workflow name.") var name: String
        @Option(help: ArgumentHelp("Runs started and not finished at once, or none.", valueName: "n|none")) var maxRuns: LimitValue?
        @Option(help: ArgumentHelp("Node runs running at once, or none.", valueName: "n|none")) var maxNodes: LimitValue?

        func run() async throws {
            let limits = try await connection.withConnection { conn in
                let store = WorkflowStore(connection: conn)
                if maxRuns == nil && maxNodes == nil { return try await store.limits(name) }
                let current = try await store.limits(name)
                return try await store.setLimits(
                    name, maxRuns: maxRuns.map(\.value) ?? current.maxConcurrentRuns,
                    maxNodes: maxNodes.map(\.value) ?? current.maxConcurrentNodes, as: actor.name)
            }
            print("\(name): max concurrent runs \(limits.maxConcurrentRuns.map(String.init) ?? "none") (\(limits.activeRuns) active), "
                  + "max concurrent nodes \(limits.maxConcurrentNodes.map(String.init) ?? "none") (\(limits.runningNodes) running)")
        }
    }

    /// A limit on the command line: a positive number, or `none` to remove it.
    struct LimitValue: ExpressibleByArgument {
        var value: Int?
        init?(argument: String) {
            if argument == "none" { value = nil; return }
            guard let number = Int(argument), number >= 1 else { return nil }
            value = number
        }
    }

    static func describe(_ published: WorkflowStore.Published) -> String {
        let checksum = published.checksum.prefix(12)
        return published.created
            ? "published \(published.workflow) version \(published.version) (checksum \(checksum))"
            : "unchanged: \(published.workflow) version \(published.version) already has this definition (checksum \(checksum))"
    }

    static func render(_ detail: WorkflowStore.Version) -> String {
        var lines = ["\(detail.workflow)  version \(detail.version) of \(detail.latestVersion)  checksum \(detail.checksum.prefix(12))"]
        var provenance = "published \(Console.timestamp(detail.createdAt))"
        if let author = detail.author { provenance += " by \(author)" }
        if let template = detail.template { provenance += " from template \(template) v\(detail.templateVersion ?? 0)" }
        lines.append(provenance)
        if !detail.description.isEmpty { lines.append(detail.description) }
        let outgoing = Dictionary(grouping: detail.edges, by: \.from)
        var currentLevel = -1
        for node in detail.nodes {
            if node.level != currentLevel {
                currentLevel = node.level
                lines.append("")
                lines.append("level \(node.level)")
            }
            var facts = [node.kind]
            if let handler = node.handler { facts.append("handler=\(handler)") }
            // Retry, timeout and on_error only govern work run by a handler.
            if node.handler != nil {
                if node.maxAttempts > 1 { facts.append("attempts=\(node.maxAttempts)") }
                if let timeout = node.timeoutMilliseconds { facts.append("timeout=\(Console.duration(Double(timeout)))") }
                if node.onError != "fail" { facts.append("on_error=\(node.onError)") }
            }
            if let mode = node.joinMode { facts.append("mode=\(mode)" + (node.joinN.map { "(\($0))" } ?? "")) }
            lines.append("  \(node.key)  " + facts.joined(separator: " "))
            for edge in outgoing[node.key] ?? [] {
                var arrow = "    -> \(edge.to)"
                if let label = edge.label { arrow += " [\(label)]" }
                if let condition = edge.condition { arrow += " when \(condition)" }
                lines.append(arrow)
            }
        }
        return lines.joined(separator: "\n")
    }
}

/// Maps errors the CLI can explain better than the raw SQL error.
enum CLIErrors {
    /// PostgreSQL's JSON parse error (22P02) becomes one line naming the file.
    static func json<T>(_ file: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PGError where error.sqlState == SQLState.invalidTextRepresentation {
            var text = "\(file) is not valid JSON"
            if let detail = error.detail { text += ": \(detail)" }
            if let context = error.context { text += " (\(PGErrorContext.firstLine(context)))" }
            throw CLIError(text)
        }
    }
}

enum PGErrorContext {
    static func firstLine(_ text: String) -> String {
        String(text.split(whereSeparator: \.isNewline).first ?? "")
    }
}
