import ArgumentParser
import Foundation
import TrellisCore
import TrellisStore

struct TemplateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "template",
        abstract: "Import, inspect and instantiate workflow templates.",
        subcommands: [Import.self, List.self, Show.self, Instantiate.self]
    )

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Store a template file as a new immutable version (administrators).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Template file (.json, .yaml; - for stdin).") var file: String

        func run() async throws {
            let json = try InputFile.json(file)
            let imported = try await connection.withConnection { conn in
                try await CLIErrors.json(file) { try await TemplateStore(connection: conn).importTemplate(json, as: actor.name) }
            }
            print(imported.created
                ? "imported template \(imported.name) version \(imported.version)"
                : "unchanged: template \(imported.name) version \(imported.version) is identical")
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List templates with their latest version.")
        @OptionGroup var connection: ConnectionOptions

        func run() async throws {
            let templates = try await connection.withConnection { try await TemplateStore(connection: $0).list() }
            var table = TextTable(headers: ["NAME", "LATEST", "PARAMETERS", "WORKFLOW VERSIONS", "CREATED AT", "DESCRIPTION"])
            for t in templates {
                table.append([t.name, "v\(t.latestVersion)", String(t.parameterCount), String(t.instantiations),
                              Console.timestamp(t.createdAt), t.description])
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a template's parameters and definition.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "Template name.") var name: String
        @Option(help: "Version (default: the latest).") var version: Int?
        @Flag(help: "Print the whole template as importable JSON instead.") var json = false

        func run() async throws {
            let template = try await connection.withConnection { try await TemplateStore(connection: $0).show(name, version: version) }
            if json {
                print(template.prettyDocument)
                return
            }
            print("\(template.name)  version \(template.version)  checksum \(template.checksum.prefix(12))")
            if !template.description.isEmpty { print(template.description) }
            var table = TextTable(headers: ["PARAMETER", "TYPE", "REQUIRED", "DEFAULT", "DESCRIPTION"])
            for parameter in (try template.parameters.object() as? [[String: Any]]) ?? [] {
                let hasDefault = parameter["default"] != nil
                let required = (parameter["required"] as? Bool) ?? !hasDefault
                table.append([
                    parameter["name"] as? String ?? "", parameter["type"] as? String ?? "", required ? "yes" : "no",
                    hasDefault ? TemplateCommand.jsonText(parameter["default"]) : "", parameter["description"] as? String ?? "",
                ])
            }
            print("")
            print(table.render())
        }
    }

    struct Instantiate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Fill a template's parameters and publish the result as a workflow version.",
            discussion: "--param name=value takes JSON values (3, true, [1,2]) and plain text otherwise.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Template name.") var name: String
        @Option(help: "Workflow to publish.") var workflow: String
        @Option(name: .customLong("param"), parsing: .singleValue, help: "A parameter, name=value (repeatable).")
        var params: [String] = []
        @Option(name: .customLong("params"), help: "All parameters as one JSON object.") var paramsJSON: String?
        @Option(help: "Template version (default: the latest).") var version: Int?

        func run() async throws {
            let parameters = try TemplateCommand.parameters(json: paramsJSON, pairs: params)
            let published = try await connection.withConnection { conn in
                try await TemplateStore(connection: conn).instantiate(
                    name, parameters: parameters, workflow: workflow, as: actor.name, version: version)
            }
            print(WorkflowCommand.describe(published))
        }
    }

    /// Merges `--params` JSON and `--param k=v` pairs into one JSON object text.
    static func parameters(json: String?, pairs: [String]) throws -> String {
        var object: [String: Any] = [:]
        if let json {
            guard let parsed = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else {
                throw CLIError("--params must be a JSON object, got \(json)")
            }
            object = parsed
        }
        for pair in pairs {
            guard let equals = pair.firstIndex(of: "="), equals != pair.startIndex else {
                throw CLIError("--param needs name=value, got \"\(pair)\"")
            }
            let key = String(pair[..<equals])
            let raw = String(pair[pair.index(after: equals)...])
            object[key] = (try? JSONSerialization.jsonObject(with: Data(raw.utf8), options: [.fragmentsAllowed])) ?? raw
        }
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    static func jsonText(_ value: Any?) -> String {
        guard let value else { return "" }
        if let string = value as? String { return string }
        guard let data = try? JSONSerialization.data(withJSONObject: value, options: [.fragmentsAllowed, .sortedKeys]) else {
            return String(describing: value)
        }
        return String(decoding: data, as: UTF8.self)
    }
}
