import Foundation
import Testing
@testable import TrellisStore

@Suite("Embedded SQL catalogue")
struct EmbeddedCatalogueTests {
    private var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// One function per definition file, the file named after it: `NNNN_function_<name>.sql`
    /// defines `trellis.<name>` (overloads included) and nothing else; a trigger file
    /// `NNNN_trigger_<name>.sql` may define its trigger function `<name>`; no other file
    /// defines a function.
    @Test func everyFunctionLivesInAFileNamedAfterIt() {
        var problems: [String] = []
        for file in EmbeddedSQL.files where file.path.hasPrefix("sql/") {
            let defined = Set(file.contents.matches(of: /(?im)^\s*CREATE\s+(?:OR\s+REPLACE\s+)?FUNCTION\s+trellis\.([a-z_0-9]+)/).map { String($0.output.1).lowercased() })
            guard !defined.isEmpty else { continue }
            let name = String(file.path.split(separator: "/").last!.dropLast(".sql".count))
            let said = name.firstMatch(of: /^[0-9]+_(?:function|trigger)_([a-z_0-9]+)$/).map { String($0.output.1) }
            if defined != [said] {
                problems.append("\(file.path) defines \(defined.sorted().joined(separator: ", ")), but its name says \(said ?? "no function")")
            }
        }
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }

    /// SwiftPM only notices a *new* .sql file when it re-plans the build; this catches a
    /// stale binary instead of letting it ship without the file.
    @Test func matchesTheFilesOnDisk() throws {
        var onDisk: [String: String] = [:]
        for (folder, extensions) in [("migrations", ["sql"]), ("sql", ["sql"]), ("queries", ["sql"]), ("seeds", ["json", "yaml", "yml"])] {
            let base = packageRoot.appending(path: folder)
            guard let walker = FileManager.default.enumerator(at: base, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where extensions.contains(url.pathExtension) {
                let relative = folder + "/" + url.standardizedFileURL.path.dropFirst(base.standardizedFileURL.path.count + 1)
                // The benchmark's own queries are embedded into TrellisBench, not the product.
                if relative.hasPrefix("queries/bench/") || relative.hasPrefix("queries/chaos/") { continue }
                onDisk[relative] = try String(contentsOf: url, encoding: .utf8)
            }
        }
        let embedded = Dictionary(uniqueKeysWithValues: EmbeddedSQL.files.map { ($0.path, $0.contents) })
        #expect(Set(embedded.keys) == Set(onDisk.keys), "embedded catalogue is stale: touch Package.swift and rebuild")
        for (path, contents) in onDisk {
            #expect(embedded[path] == contents, "embedded copy of \(path) differs from the file")
        }
    }

    @Test func everyNamedQueryResolves() {
        for name in Query.all {
            #expect(SQLCatalogue.embedded.queries[name] != nil, "queries/\(name).sql is missing")
        }
    }

    @Test func migrationsAreNumberedWithoutGaps() {
        let versions = SQLCatalogue.embedded.migrations.map(\.version)
        #expect(versions == Array(1...versions.count))
    }
}
