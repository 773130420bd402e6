import ArgumentParser
import Foundation
import TrellisCore
import TrellisPQ
import TrellisStore

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start runs and inspect them.",
        subcommands: [Start.self, Show.self, Output.self, List.self, Events.self, Cancel.self, Pause.self, Resume.self, Retry.self]
    )

    struct Output: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a node's whole output (JSON) to stdout or a file.",
            discussion: "An output over the scheduler's inline cap is stored as an artifact; this streams it whole.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Run id.") var id: String
        @Argument(help: "Node key.") var node: String
        @Option(name: .shortAndLong, help: "Output file (default: stdout).") var output: String?

        func run() async throws {
            let run = try Console.uuid(id, "a run id")
            try await connection.withConnection { conn in
                let detail = try await APIStore(connection: conn).node(node, of: run, logs: 0, as: actor.name).decode(JSONValue.self)
                guard let value = detail["output"], value != .null else {
                    throw CLIError("node \(node) of run \(id) has no output (it is \(detail["status"]?.stringValue ?? "unknown"))")
                }
                if let stored = ArtifactReference(value), stored.isStoredOutput {
                    try await ArtifactCommand.Get.write(stored.id, from: ArtifactStore(connection: conn), as: actor.name, to: output)
                    return
                }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
                var text = try encoder.encode(value)
                text.append(0x0A)
                if let output, output != "-" {
                    guard FileManager.default.createFile(atPath: output, contents: text) else { throw CLIError("cannot write \(output)") }
                    Console.note("wrote \(text.count) bytes to \(output)")
                } else {
                    FileHandle.standardOutput.write(text)
                }
            }
        }
    }

    struct Start: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a run of a workflow's latest (or a given) version.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Workflow name.") var workflow: String
        @Option(help: "Run input: a JSON object, or @FILE.") var input = "{}"
        @Option(help: "Claim order among ready nodes (higher first).") var priority: Int?
        @Option(help: "Starting again with the same key returns the same run.") var idempotencyKey: String?
        @Option(help: "Pin a version (default: the latest).") var version: Int?
        @Flag(help: "Wait until the run finishes (a scheduler must be running) and show it.") var wait = false
        @Flag(help: "Stream the run's events (one line each) until it finishes.") var follow = false
        @Option(help: "With --wait: give up after this many seconds.") var timeout = 300
        @Option(help: ArgumentHelp("Start one run per line of this file: JSON objects, one per line (- reads stdin).",
                                   discussion: "Every line is checked before anything is written; all runs start in one transaction.",
                                   valueName: "file"))
        var inputFile: String?
        @Flag(help: "With --input-file: print each new run id, one per line.") var ids = false

        func validate() throws {
            guard inputFile != nil else {
                guard !ids else { throw ValidationError("--ids needs --input-file") }
                return
            }
            guard input == "{}" else { throw ValidationError("--input-file and --input cannot be used together") }
            guard idempotencyKey == nil else { throw ValidationError("--idempotency-key names one run; it cannot be used with --input-file") }
            guard !wait && !follow else { throw ValidationError("--wait and --follow follow one run; they cannot be used with --input-file") }
        }

        func run() async throws {
            if let inputFile {
                try await startMany(inputFile)
                return
            }
            let inputJSON = input.hasPrefix("@") ? try InputFile.json(String(input.dropFirst())) : input
            try await connection.withConnection { conn in
                let store = RunStore(connection: conn)
                let started = try await CLIErrors.json("--input") {
                    try await store.start(workflow, input: inputJSON, as: actor.name, priority: priority,
                                          idempotencyKey: idempotencyKey, version: version)
                }
                let id = started.runID.uuidString.lowercased()
                print(started.created ? "started run \(id) of \(workflow)" : "existing run \(id) of \(workflow) (same idempotency key)")
                guard wait || follow else { return }
                let deadline = ContinuousClock.now + .seconds(timeout)
                var cursor: Int64 = 0
                while true {
                    if follow {
                        for event in try await store.events(of: started.runID, after: cursor) {
                            print(RunCommand.describe(event))
                            cursor = event.seq
                        }
                    }
                    let run = try await store.run(started.runID)
                    if run.finishedAt != nil, run.lastSeq <= cursor || !follow {
                        if follow { print("") }
                        print(RunCommand.render(run, nodes: try await store.nodes(of: started.runID)))
                        if run.status != RunStatus.succeeded.rawValue { throw ExitCode.failure }
                        return
                    }
                    if ContinuousClock.now >= deadline {
                        throw CLIError("run \(id) is still \(run.status) after \(timeout) s; is a scheduler running (`trellis scheduler`)?")
                    }
                    try await Task.sleep(for: .milliseconds(200))
                }
            }
        }

        /// JSON lines → runs: each line is parsed first (a bad one is named by its line
        /// number and nothing starts), then the runs start in chunks of start_runs calls
        /// inside one transaction, so a refusal leaves none of them behind.
        private func startMany(_ path: String) async throws {
            let text = try InputFile.read(path)
            var inputs: [String] = [], lines: [Int] = []
            for (index, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
                if trimmed.isEmpty { continue }
                guard let value = try? JSONDecoder().decode(JSONValue.self, from: Data(trimmed.utf8)) else {
                    throw CLIError("\(path == "-" ? "stdin" : path) line \(index + 1): not valid JSON")
                }
                guard case .object = value else {
                    throw CLIError("\(path == "-" ? "stdin" : path) line \(index + 1): a run input must be a JSON object")
                }
                inputs.append(trimmed)
                lines.append(index + 1)
            }
            guard !inputs.isEmpty else { throw CLIError("\(path == "-" ? "stdin" : path) has no input lines") }
            let started = ContinuousClock.now
            let runs = try await connection.withConnection { conn in
                try await conn.withTransaction { tx in
                    var runs: [RunStore.Started] = []
                    for chunk in stride(from: 0, to: inputs.count, by: RunCommand.startChunk) {
                        let slice = Array(inputs[chunk..<min(chunk + RunCommand.startChunk, inputs.count)])
                        do {
                            runs += try await RunStore(connection: tx).start(workflow, inputs: slice, as: actor.name,
                                                                              priority: priority, version: version)
                        } catch let error as PGError where error.message.hasPrefix("inputs[") {
                            // Name the line, not the position within the chunk.
                            let position = Int(error.message.dropFirst("inputs[".count).prefix { $0.isNumber }) ?? 0
                            let rest = error.message.drop { $0 != "]" }.dropFirst(3)
                            throw CLIError("\(path == "-" ? "stdin" : path) line \(lines[min(chunk + position, lines.count - 1)]): \(rest)")
                        }
                    }
                    return runs
                }
            }
            if ids {
                for run in runs { print(run.runID.uuidString.lowercased()) }
            } else {
                print(String(format: "started %d runs of %@ in %.2f s", runs.count, workflow, (ContinuousClock.now - started).inSeconds))
            }
        }
    }

    /// How many runs one start_runs call carries (its cap is trellis.max_start_batch).
    static let startChunk = 10_000

    struct Events: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a run's event log; --follow keeps reading live (LISTEN on the database, no relay) until the run ends.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Run id.") var id: String
        @Option(help: "Only events after this seq (a resume cursor).") var after: Int64 = 0
        @Flag(help: "Keep printing new events until the run's final event.") var follow = false
        @Flag(help: "One JSON envelope per line (PROTOCOL.md) instead of text.") var json = false

        func run() async throws {
            let run = try Console.uuid(id, "a run id")
            let url = try await connection.locator.resolve { Console.note($0) }
            try await PGConnection.withConnection(url) { conn in
                let store = RunStore(connection: conn)
                _ = try await store.run(run)  // unknown run: one clear line
                // The doorbell connection: woken by NOTIFY trellis_events, with a poll as
                // the fallback, so a lost notification costs latency, never events.
                let bell = follow ? try await PGConnection.connect(url, applicationName: "trellis run events") : nil
                defer { if let bell { Task { await bell.close() } } }
                try await bell?.listen("trellis_events")
                var cursor = after
                while true {
                    var finished = false
                    for event in try await store.events(of: run, after: cursor) {
                        Console.out(json ? RunCommand.envelope(event, run: run) : RunCommand.describe(event))
                        cursor = event.seq
                        finished = finished || event.type == "run.finished"
                    }
                    if !follow || finished { return }
                    _ = try await bell?.nextNotification(timeout: .seconds(1))
                }
            }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a run: status, times, cost and a per-node timeline.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Run id.") var id: String

        func run() async throws {
            let uuid = try Console.uuid(id, "a run id")
            let (run, nodes) = try await connection.withConnection { conn in
                let store = RunStore(connection: conn)
                return (try await store.run(uuid), try await store.nodes(of: uuid))
            }
            print(RunCommand.render(run, nodes: nodes))
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List recent runs, newest first.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Only this workflow.") var workflow: String?
        @Option(help: "Only this status (queued, running, paused, waiting, succeeded, failed, cancelled).") var status: String?
        @Option(help: "At most this many.") var limit = 20

        func validate() throws {
            guard (1...10_000).contains(limit) else { throw ValidationError("--limit must be 1 to 10000") }
            let statuses = RunStatus.allCases.map(\.rawValue)
            if let status, !statuses.contains(status) {
                throw ValidationError("--status must be one of \(statuses.joined(separator: ", "))")
            }
        }

        func run() async throws {
            let runs = try await connection.withConnection { try await RunStore(connection: $0).list(workflow: workflow, status: status, limit: limit) }
            var table = TextTable(headers: ["RUN", "WORKFLOW", "VERSION", "STATUS", "STARTED BY", "CREATED AT", "DURATION", "COST"])
            for run in runs {
                table.append([
                    run.id.uuidString.lowercased(), run.workflow, "v\(run.version)", run.status, run.startedBy ?? "",
                    Console.timestamp(run.createdAt),
                    run.finishedAt.map { Console.duration($0.timeIntervalSince(run.createdAt) * 1000) } ?? "", "\(run.totalCost)",
                ])
            }
            print(table.render())
        }
    }

    /// `run cancel|pause|resume ID [--reason]`.
    struct ControlOptions: ParsableArguments {
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Run id.") var id: String
        @Option(help: "Why (recorded in the event log).") var reason: String?

        func perform(_ operation: RunStore.Control) async throws {
            let uuid = try Console.uuid(id, "a run id")
            let status = try await connection.withConnection {
                try await RunStore(connection: $0).control(operation, run: uuid, as: actor.name, reason: reason)
            }
            print("run \(uuid.uuidString.lowercased()) \(status)")
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a run: open nodes are cancelled, running handlers told.")
        @OptionGroup var options: ControlOptions
        func run() async throws { try await options.perform(.cancel) }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Pause a run: ready nodes are held; running ones finish.")
        @OptionGroup var options: ControlOptions
        func run() async throws { try await options.perform(.pause) }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Resume a paused run.")
        @OptionGroup var options: ControlOptions
        func run() async throws { try await options.perform(.resume) }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run a finished run again as a new, linked run.",
            discussion: """
                By default the nodes that succeeded keep their output and only the failed, cancelled and \
                skipped nodes run again (refused for a run that succeeded). --all runs everything again \
                from the same input. Prints the new run's id.
                """)
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Run id.") var id: String
        @Flag(help: "Run every node again instead of keeping the outputs of those that succeeded.") var all = false

        func run() async throws {
            let uuid = try Console.uuid(id, "a run id")
            let retried = try await connection.withConnection {
                try await RunStore(connection: $0).retry(uuid, mode: all ? .all : .fromFailed, as: actor.name)
            }
            Console.note("run \(retried.id.uuidString.lowercased()) \(retried.status): retry of \(uuid.uuidString.lowercased()), \(retried.reused) node(s) kept")
            print(retried.id.uuidString.lowercased())
        }
    }

    /// The PROTOCOL.md envelope of a stored event, as one line of JSON.
    static func envelope(_ event: RunStore.Event, run: UUID) -> String {
        EventEnvelope.text(runID: run, seq: event.seq, type: event.type, timestamp: event.timestamp, data: event.data.text)
    }

    /// One line per event for `--follow`: time, seq, type, node and the facts that matter.
    static func describe(_ event: RunStore.Event) -> String {
        let data = (try? event.data.decode(JSONValue.self)) ?? .object([:])
        var facts: [String] = []
        if let node = data["node_key"]?.stringValue {
            facts.append(node + (data["item_index"]?.doubleValue.map { "[\(Int($0))]" } ?? ""))
        }
        if let status = data["status"]?.stringValue { facts.append(status) }
        if let attempt = data["attempt"]?.doubleValue, event.type == "node.started" || event.type == "node.retry_scheduled" {
            facts.append("attempt \(Int(attempt))")
        }
        if let scheduler = data["scheduler"]?.stringValue { facts.append("on \(scheduler)") }
        if let ms = data["duration_ms"]?.doubleValue { facts.append(Console.duration(ms)) }
        if let message = data["error"]?["message"]?.stringValue { facts.append("error: \(message)") }
        if let delay = data["delay_ms"]?.doubleValue { facts.append("retry in \(Console.duration(delay))") }
        if let prompt = data["prompt"]?.stringValue { facts.append("\"\(prompt)\"") }
        if let approval = data["approval_id"]?.stringValue, event.type == "approval.requested" { facts.append("approval \(approval)") }
        if let decision = data["decision"]?.stringValue { facts.append(decision + (data["decided_by"]?.stringValue.map { " by \($0)" } ?? "")) }
        let time = Console.timestamp(event.timestamp).split(separator: " ").dropFirst().first.map(String.init) ?? ""
        let type = event.type.padding(toLength: 19, withPad: " ", startingAt: 0)
        let seq = "#\(event.seq)".padding(toLength: 5, withPad: " ", startingAt: 0)
        return "\(time)  \(seq) \(type) \(facts.joined(separator: "  "))"
    }

    static func render(_ run: RunStore.Run, nodes: [RunStore.NodeRun]) -> String {
        var lines = ["run \(run.id.uuidString.lowercased())  \(run.workflow) v\(run.version)  \(run.status)"]
        var facts = ["started by \(run.startedBy ?? "?")", "created \(Console.timestamp(run.createdAt))"]
        if let finished = run.finishedAt {
            facts.append("took \(Console.duration(finished.timeIntervalSince(run.createdAt) * 1000))")
        }
        facts.append("cost \(run.totalCost)")
        lines.append(facts.joined(separator: ", "))
        var table = TextTable(headers: ["NODE", "KIND", "STATUS", "ATTEMPTS", "ERROR"])
        for node in nodes {
            let message = (try? node.error?.decode(JSONValue.self))??["message"]?.stringValue ?? ""
            table.append([node.key, node.kind, node.status, String(node.attempt), message])
        }
        lines.append("")
        lines.append(table.render())
        if let output = run.output?.text { lines.append(""); lines.append("output: \(output)") }
        if let error = run.error?.text { lines.append("error: \(error)") }
        return lines.joined(separator: "\n")
    }
}
