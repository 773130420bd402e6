import ArgumentParser
import Foundation
import TrellisCore
import TrellisStore

/// `trellis artifact …`: files stored in the database, named by their SHA-256.
struct ArtifactCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "artifact",
        abstract: "Store files in the database and fetch them again (content-addressed by SHA-256).",
        subcommands: [Put.self, Get.self, List.self, Show.self]
    )

    struct Put: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Store a file (- reads stdin); prints its id. The same bytes are stored once.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "File to store.") var file: String
        @Option(help: "Name to record (default: the file's name).") var name: String?
        @Option(help: "Media type.") var mediaType = "application/octet-stream"

        func run() async throws {
            guard let handle = file == "-" ? FileHandle.standardInput : FileHandle(forReadingAtPath: file) else {
                throw CLIError("cannot read \(file): no such file or not readable")
            }
            let parts = AsyncThrowingStream<[UInt8], any Error> { continuation in
                while true {
                    let data = handle.readData(ofLength: ArtifactStore.chunkSize)
                    if data.isEmpty { break }
                    continuation.yield([UInt8](data))
                }
                continuation.finish()
            }
            let recorded = name ?? (file == "-" ? "" : URL(fileURLWithPath: file).lastPathComponent)
            let uploaded = try await connection.withConnection {
                try await ArtifactStore(connection: $0).upload(parts, name: recorded, mediaType: mediaType, maxBytes: Int.max, as: actor.name)
            }
            Console.note(uploaded.created ? "stored \(uploaded.size) bytes" : "already stored (\(uploaded.size) bytes)")
            print(uploaded.sha256)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write an artifact's bytes to a file or stdout.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Artifact id (its SHA-256).") var id: String
        @Option(name: .shortAndLong, help: "Output file (default: stdout).") var output: String?

        func run() async throws {
            try await connection.withConnection { try await Self.write(id, from: ArtifactStore(connection: $0), as: actor.name, to: output) }
        }

        /// Streams a readable artifact a chunk at a time to `output` (a file; nil or "-": stdout).
        static func write(_ id: String, from store: ArtifactStore, as principal: String, to output: String?) async throws {
            let head = try await store.head(id, as: principal)
            let sink: FileHandle
            if let output, output != "-" {
                guard FileManager.default.createFile(atPath: output, contents: nil), let file = FileHandle(forWritingAtPath: output) else {
                    throw CLIError("cannot write \(output)")
                }
                sink = file
            } else {
                sink = FileHandle.standardOutput
            }
            let chunks = head.size == 0 ? 0 : (head.size - 1) / head.chunkSize + 1
            for index in 0..<chunks {
                for chunk in try await store.chunks(head.sha256, as: principal, first: index, last: index) { sink.write(chunk) }
            }
            if let output, output != "-" { Console.note("wrote \(head.size) bytes to \(output)") }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the artifacts you may read, newest first.")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Option(help: "At most this many.") var limit = 50

        func run() async throws {
            let list = try await connection.withConnection { try await ArtifactStore(connection: $0).list(as: actor.name, limit: limit) }
            var table = TextTable(headers: ["ID", "NAME", "MEDIA TYPE", "SIZE", "BY", "CREATED AT", "RUNS"])
            for item in try list.decode(JSONValue.self).arrayValue ?? [] {
                table.append([item["id"]?.stringValue ?? "", item["name"]?.stringValue ?? "", item["media_type"]?.stringValue ?? "",
                              item["size"].map { ScheduleCommand.number($0) } ?? "", item["created_by"]?.stringValue ?? "",
                              item["created_at"]?.stringValue ?? "", String(item["runs"]?.arrayValue?.count ?? 0)])
            }
            print(table.render())
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an artifact's details and the runs that reference it (JSON).")
        @OptionGroup var connection: ConnectionOptions
        @OptionGroup var actor: ActorOptions
        @Argument(help: "Artifact id (its SHA-256).") var id: String

        func run() async throws {
            print(try await connection.withConnection { try await ArtifactStore(connection: $0).show(id, as: actor.name) }.text)
        }
    }
}
