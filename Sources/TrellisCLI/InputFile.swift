import Foundation
import TrellisCore

/// A definition or template file named on the command line (`-` reads stdin), as JSON text.
enum InputFile {
    static func read(_ path: String) throws -> String {
        if path == "-" {
            return String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw CLIError("cannot read \(path): no such file")
        }
        guard let data = FileManager.default.contents(atPath: path) else {
            throw CLIError("cannot read \(path): permission denied or not a file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CLIError("cannot read \(path): not UTF-8 text")
        }
        return text
    }

    static func json(_ path: String) throws -> String {
        let contents = try read(path)
        do {
            return try DefinitionDocument.jsonText(fileName: path == "-" ? "stdin" : path, contents: contents)
        } catch let error as DefinitionDocument.ParseError {
            throw CLIError(error.description)
        }
    }
}
