import Foundation
import PackagePlugin

/// Embeds `migrations/`, `sql/`, `queries/` (`.sql`) and `seeds/` (`.json`, `.yaml`) into
/// the target as a generated Swift file, so the `trellis` binary carries its schema and
/// seeds and works when copied away from the checkout. The benchmark target gets only its
/// own queries (`queries/bench`, `queries/chaos`); the relay gets its assets (the OpenAPI
/// document and the console under `ui/`); the product target gets everything else.
///
/// SwiftPM re-runs the tool when a listed file changes; a newly added file is seen when
/// the build is planned again (a clean build, as CI does, or touching Package.swift).
/// `EmbeddedCatalogueTests` compares the embedded catalogue with the files on disk.
@main
struct EmbedSQLPlugin: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) async throws -> [Command] {
        let root = context.package.directoryURL
        let relay = target.name == "TrellisRelay"
        let folders = (relay ? ["docs", "ui"] : ["migrations", "sql", "queries", "seeds"]).map { root.appending(path: $0) }
            .filter { FileManager.default.fileExists(atPath: $0.path(percentEncoded: false)) }
        var inputs: [URL] = folders
        for folder in folders {
            guard let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil) else { continue }
            for case let url as URL in walker where ["sql", "json", "yaml", "yml", "html", "css", "js", "svg"].contains(url.pathExtension) {
                inputs.append(url)
            }
        }
        let output = context.pluginWorkDirectoryURL.appending(path: relay ? "EmbeddedAssets.swift" : "EmbeddedSQL.swift")
        let scope = relay ? "relay" : target.name == "TrellisBench" ? "bench" : "product"
        return [
            .buildCommand(
                displayName: "Embedding SQL catalogue (\(inputs.count - folders.count) files)",
                executable: try context.tool(named: "EmbedSQLTool").url,
                arguments: [root.path(percentEncoded: false), output.path(percentEncoded: false), scope],
                inputFiles: inputs,
                outputFiles: [output]
            )
        ]
    }
}
