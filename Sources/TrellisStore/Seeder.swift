import Foundation
import TrellisCore
import TrellisPQ

/// Loads the example templates and workflows under `seeds/` (embedded in the binary, or
/// from a directory). Idempotent: unchanged documents return their existing versions.
public struct Seeder: Sendable {
    public struct Loaded: Sendable, Hashable {
        public enum Kind: String, Sendable { case template, workflow }
        public var kind: Kind
        public var name: String
        public var version: Int
        public var created: Bool
        public var path: String
    }

    public let connection: PGConnection

    public init(connection: PGConnection) {
        self.connection = connection
    }

    /// Seed documents from a directory laid out like `seeds/` (`templates/`, `workflows/`).
    public static func files(in directory: URL) throws -> [SQLFile] {
        var files: [SQLFile] = []
        for folder in ["templates", "workflows"] {
            let base = directory.appending(path: folder)
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: base.path) else { continue }
            for name in names.sorted() where ["json", "yaml", "yml"].contains((name as NSString).pathExtension) {
                let contents = try String(contentsOf: base.appending(path: name), encoding: .utf8)
                files.append(SQLFile(path: "seeds/\(folder)/\(name)", contents: contents))
            }
        }
        return files
    }

    /// Templates first, then workflows, each in its own statement (a bad file stops the
    /// load and names the file; what loaded before it stays).
    public func load(_ files: [SQLFile] = SQLCatalogue.embedded.seeds, as principal: String) async throws -> [Loaded] {
        var loaded: [Loaded] = []
        let templates = files.filter { $0.path.hasPrefix("seeds/templates/") }
        let workflows = files.filter { $0.path.hasPrefix("seeds/workflows/") }
        for file in templates {
            let json = try DefinitionDocument.jsonText(fileName: file.path, contents: file.contents)
            let result = try await attempt(file) { try await TemplateStore(connection: connection).importTemplate(json, as: principal) }
            loaded.append(.init(kind: .template, name: result.name, version: result.version, created: result.created, path: file.path))
        }
        for file in workflows {
            let json = try DefinitionDocument.jsonText(fileName: file.path, contents: file.contents)
            let result = try await attempt(file) { try await WorkflowStore(connection: connection).publish(definition: json, as: principal) }
            loaded.append(.init(kind: .workflow, name: result.workflow, version: result.version, created: result.created, path: file.path))
        }
        return loaded
    }

    private func attempt<T>(_ file: SQLFile, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as PGError {
            throw StoreError(code: .invalidInput, message: "\(file.path): \(error.description)")
        }
    }
}
