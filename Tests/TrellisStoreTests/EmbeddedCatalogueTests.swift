import Foundation
import Testing
@testable import TrellisStore

@Suite("Embedded SQL catalogue")
struct EmbeddedCatalogueTests {
    private var packageRoot: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
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
