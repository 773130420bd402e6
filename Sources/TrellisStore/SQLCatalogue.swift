import Crypto
import Foundation

/// One embedded file (`.sql` from `migrations/`, `sql/`, `queries/`; a seed document
/// from `seeds/`), with its SHA-256.
public struct SQLFile: Sendable, Hashable {
    /// Path relative to the package root, e.g. `migrations/0001_initial_schema.sql`.
    public var path: String
    public var contents: String
    /// Lower-case hex SHA-256 of the UTF-8 contents.
    public var checksum: String

    public init(path: String, contents: String) {
        self.path = path
        self.contents = contents
        self.checksum = sha256Hex(contents)
    }

    /// File name without folders.
    public var fileName: String { String(path.split(separator: "/").last ?? Substring(path)) }
}

/// A numbered, immutable migration: `migrations/NNNN_name.sql`.
public struct Migration: Sendable, Hashable {
    public var version: Int
    public var name: String
    public var file: SQLFile
}

/// The SQL a `trellis` binary carries: numbered migrations, repeatable definitions
/// (re-applied when their checksum changes, in path order) and named queries.
public struct SQLCatalogue: Sendable {
    public let migrations: [Migration]
    public let definitions: [SQLFile]
    public let queries: [String: SQLFile]
    /// Example workflows (`seeds/workflows/`) and templates (`seeds/templates/`), JSON or YAML.
    public let seeds: [SQLFile]

    /// The catalogue embedded in this binary at build time.
    public static let embedded: SQLCatalogue = {
        do {
            return try SQLCatalogue(files: EmbeddedSQL.files.map { SQLFile(path: $0.path, contents: $0.contents) })
        } catch {
            fatalError("embedded SQL catalogue is invalid: \(error)")
        }
    }()

    /// Builds a catalogue from files, refusing malformed migration names and duplicate versions.
    public init(files: [SQLFile]) throws {
        var migrations: [Migration] = []
        var definitions: [SQLFile] = []
        var queries: [String: SQLFile] = [:]
        var seeds: [SQLFile] = []
        for file in files {
            if file.path.hasPrefix("migrations/") {
                let name = file.fileName
                let digits = name.prefix { $0.isASCII && $0.isNumber }
                guard digits.count == 4, let version = Int(digits), version > 0,
                      name.dropFirst(4).hasPrefix("_"), name.hasSuffix(".sql"), name.count > 9
                else {
                    throw MigrationError(
                        code: .invalidCatalogue,
                        message: "migration file \(file.path) must be named NNNN_name.sql with NNNN from 0001")
                }
                if let clash = migrations.first(where: { $0.version == version }) {
                    throw MigrationError(
                        code: .invalidCatalogue,
                        message: "migrations \(clash.file.path) and \(file.path) share version \(version)")
                }
                migrations.append(Migration(version: version, name: String(name.dropLast(4)), file: file))
            } else if file.path.hasPrefix("sql/") {
                definitions.append(file)
            } else if file.path.hasPrefix("queries/") {
                queries[String(file.path.dropFirst("queries/".count).dropLast(".sql".count))] = file
            } else if file.path.hasPrefix("seeds/") {
                seeds.append(file)
            }
        }
        self.migrations = migrations.sorted { $0.version < $1.version }
        self.definitions = definitions.sorted { $0.path < $1.path }
        self.queries = queries
        self.seeds = seeds.sorted { $0.path < $1.path }
    }

    /// The text of a named query (`queries/<name>.sql`). A missing name is a programming
    /// error caught by `EmbeddedCatalogueTests`, which resolves every `Query` constant.
    public func query(_ name: String) -> String {
        guard let file = queries[name] else {
            fatalError("no query named \(name) in the SQL catalogue (expected queries/\(name).sql)")
        }
        return file.contents
    }
}
