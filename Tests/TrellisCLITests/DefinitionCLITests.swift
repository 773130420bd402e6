import Foundation
import Testing
import TrellisPQ
import TrellisTestSupport

/// One directory for this test process's files, removed when the process exits (each test
/// run used to leave its few hundred files behind).
private let cliTestDirectory = URL(fileURLWithPath: NSTemporaryDirectory()).appending(path: "trellis-cli-\(getpid())")
private let cliTestFiles: URL = {
    atexit { try? FileManager.default.removeItem(at: cliTestDirectory) }
    return cliTestDirectory
}()

/// Writes `contents` to a temporary file with `name` (in a directory of its own, so tests
/// can use the same names) and returns its path.
func temporaryFile(_ name: String, _ contents: String) throws -> String {
    let directory = cliTestFiles.appending(path: String(UUID().uuidString.prefix(8)))
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    let url = directory.appending(path: name)
    try contents.write(to: url, atomically: true, encoding: .utf8)
    return url.path
}

/// End-to-end: workflow, template, principal and grant commands of the built binary.
@Suite("trellis workflow/template/grant (binary)")
struct DefinitionCLITests {
    let yaml = """
        name: hello
        description: Say hello twice
        nodes:
          - {key: first, kind: tool_call, handler: echo, input: {name: $input.name}, retry: {max_attempts: 2}}
          - {key: second, kind: tool_call, handler: echo, input: {greeting: $first.name}, timeout: 30s}
        edges:
          - {from: first, to: second}
        """

    @Test func validatePublishListShowExportRoundTrip() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            let file = try temporaryFile("hello.yaml", yaml)
            let valid = try TrellisBinary.run(["workflow", "validate", file] + url)
            #expect(valid.status == 0)
            #expect(valid.stdout == "\(file): valid\n")

            let published = try TrellisBinary.run(["workflow", "publish", file] + url)
            #expect(published.status == 0, "\(published.stderr)")
            #expect(published.stdout.hasPrefix("published hello version 1 (checksum "))
            let again = try TrellisBinary.run(["workflow", "publish", file] + url)
            #expect(again.stdout.hasPrefix("unchanged: hello version 1 already has this definition"))

            let list = try TrellisBinary.run(["workflow", "list"] + url)
            #expect(list.stdout.hasPrefix("NAME   LATEST  PUBLISHED AT"))
            #expect(list.stdout.contains("hello  v1"))
            #expect(list.stdout.contains("Say hello twice"))

            let show = try TrellisBinary.run(["workflow", "show", "hello"] + url)
            #expect(show.stdout.contains("hello  version 1 of 1"))
            #expect(show.stdout.contains("level 0\n  first  tool_call handler=echo attempts=2\n    -> second\n\nlevel 1\n  second  tool_call handler=echo timeout=30s"))

            let export = try TrellisBinary.run(["workflow", "export", "hello"] + url)
            #expect(export.status == 0)
            let exported = try temporaryFile("hello.json", export.stdout)
            let republished = try TrellisBinary.run(["workflow", "publish", exported] + url)
            #expect(republished.stdout.hasPrefix("unchanged: hello version 1"), "\(republished.stdout)\(republished.stderr)")

            let missing = try TrellisBinary.run(["workflow", "show", "nope"] + url)
            #expect(missing.status == 1)
            #expect(missing.stderr == "Error: unknown workflow \"nope\"\n")
        }
    }

    @Test func limitsShowSetAndClear() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            _ = try TrellisBinary.run(["workflow", "publish", try temporaryFile("hello.yaml", yaml)] + url)
            let shown = try TrellisBinary.run(["workflow", "limits", "hello"] + url)
            #expect(shown.stdout == "hello: max concurrent runs none (0 active), max concurrent nodes none (0 running)\n")
            let set = try TrellisBinary.run(["workflow", "limits", "hello", "--max-runs", "2", "--max-nodes", "5"] + url)
            #expect(set.status == 0, "\(set.stderr)")
            #expect(set.stdout == "hello: max concurrent runs 2 (0 active), max concurrent nodes 5 (0 running)\n")
            let cleared = try TrellisBinary.run(["workflow", "limits", "hello", "--max-runs", "none"] + url)
            #expect(cleared.stdout == "hello: max concurrent runs none (0 active), max concurrent nodes 5 (0 running)\n")

            let zero = try TrellisBinary.run(["workflow", "limits", "hello", "--max-nodes", "0"] + url)
            #expect(zero.status != 0)
            #expect(zero.stderr.contains("--max-nodes"), "\(zero.stderr)")
            let unknown = try TrellisBinary.run(["workflow", "limits", "nope", "--max-runs", "1"] + url)
            #expect(unknown.status == 1)
            #expect(unknown.stderr == "Error: unknown workflow \"nope\"\n")
            let after = try TrellisBinary.run(["workflow", "limits", "hello"] + url)
            #expect(after.stdout.contains("max concurrent nodes 5"), "refused changes wrote nothing")
        }
    }

    @Test func invalidDefinitionsFailWithOneLineAndWriteNothing() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            let file = try temporaryFile("bad.json", #"{"name": "bad", "nodes": [{"key": "a", "kind": "tool_call"}, {"key": "j", "kind": "join"}], "edges": [{"from": "a", "to": "j"}]}"#)
            let validate = try TrellisBinary.run(["workflow", "validate", file] + url)
            #expect(validate.status == 1)
            #expect(validate.stdout.contains("\(file): 2 problem(s)"))
            #expect(validate.stdout.contains(#"TR102  node "a"  node "a": kind tool_call needs a handler"#))
            #expect(validate.stdout.contains(#"TR112  node "j"  node "j": a join needs at least two inputs, it has 1"#))

            let publish = try TrellisBinary.run(["workflow", "publish", file] + url)
            #expect(publish.status == 1)
            #expect(publish.stderr.split(separator: "\n").count == 1)
            #expect(publish.stderr.contains("(SQLSTATE TR102); 1 more problem(s)"))

            let malformed = try temporaryFile("broken.json", "{\"name\": \"x\",\n \"nodes\": [}")
            let parse = try TrellisBinary.run(["workflow", "publish", malformed] + url)
            #expect(parse.status == 1)
            #expect(parse.stderr.hasPrefix("Error: \(malformed) is not valid JSON"))
            let yaml = try temporaryFile("broken.yaml", "nodes: [a\nedges: {")
            let yamlError = try TrellisBinary.run(["workflow", "validate", yaml] + url)
            #expect(yamlError.stderr.hasPrefix("Error: \(yaml) is not valid YAML"))

            let list = try TrellisBinary.run(["workflow", "list"] + url)
            #expect(list.stdout == "NAME  LATEST  PUBLISHED AT  OWNER  RUNS  DESCRIPTION\n")
        }
    }

    @Test func principalsGrantsAndActingAsSomeoneElse() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            let file = try temporaryFile("hello.yaml", yaml)
            #expect(try TrellisBinary.run(["principal", "create", "alice"] + url).stdout == "created user alice\n")
            #expect(try TrellisBinary.run(["principal", "create", "ops", "--kind", "role"] + url).status == 0)
            #expect(try TrellisBinary.run(["principal", "create", "bob", "--role", "ops"] + url).stdout == "created user bob in role ops\n")
            let duplicate = try TrellisBinary.run(["principal", "create", "alice"] + url)
            #expect(duplicate.status == 1)
            #expect(duplicate.stderr.contains(#"principal "alice" already exists"#))

            // alice publishes and owns the workflow; bob cannot publish a new version.
            #expect(try TrellisBinary.run(["workflow", "publish", file, "--as", "alice"] + url).status == 0)
            let changed = try temporaryFile("hello.yaml", yaml.replacingOccurrences(of: "twice", with: "three times"))
            let refused = try TrellisBinary.run(["workflow", "publish", changed] + url, environment: ["TRELLIS_PRINCIPAL": "bob"])
            #expect(refused.status == 1)
            #expect(refused.stderr.contains(#"principal "bob" lacks the "edit" privilege on workflow "hello""#))

            let grant = try TrellisBinary.run(["grant", "edit", "hello", "ops", "--as", "alice"] + url)
            #expect(grant.stdout == "granted edit on hello to ops\n")
            let accepted = try TrellisBinary.run(["workflow", "publish", changed, "--as", "bob"] + url)
            #expect(accepted.stdout.hasPrefix("published hello version 2"))

            let grants = try TrellisBinary.run(["grants", "hello"] + url)
            #expect(grants.stdout.contains("hello     alice      owner"))
            #expect(grants.stdout.contains("hello     ops        edit       alice"))
            #expect(try TrellisBinary.run(["revoke", "edit", "hello", "ops"] + url).stdout == "revoked edit on hello from ops\n")
            let badPrivilege = try TrellisBinary.run(["grant", "fly", "hello", "bob"] + url)
            #expect(badPrivilege.status == 1)
            #expect(badPrivilege.stderr.contains(#"unknown privilege "fly""#))
            let principals = try TrellisBinary.run(["principal", "list"] + url)
            #expect(principals.stdout.contains("bob    user  "))
            #expect(principals.stdout.contains("ops"))
        }
    }

    @Test func templatesAndSeeds() async throws {
        try await TestDatabase.withMigrated { db in
            let url = ["--database-url", db.url]
            let seed = try TrellisBinary.run(["seed"] + url)
            #expect(seed.status == 0, "\(seed.stderr)")
            #expect(seed.stdout.contains("loaded     workflow human-approval v1"))
            #expect(try TrellisBinary.run(["seed"] + url).stdout.contains("unchanged  workflow human-approval v1"))

            let list = try TrellisBinary.run(["template", "list"] + url)
            #expect(list.stdout.contains("http-etl"))
            let show = try TrellisBinary.run(["template", "show", "http-etl"] + url)
            #expect(show.stdout.contains("source_url  string   yes"))
            #expect(show.stdout.contains("attempts    integer  no        3"))

            let made = try TrellisBinary.run([
                "template", "instantiate", "http-etl", "--workflow", "etl-orders",
                "--param", "source_url=http://127.0.0.1:9/orders", "--param", "attempts=5",
            ] + url)
            #expect(made.stdout.hasPrefix("published etl-orders version 1"), "\(made.stderr)")
            let shown = try TrellisBinary.run(["workflow", "show", "etl-orders"] + url)
            #expect(shown.stdout.contains("from template http-etl v1"))
            #expect(shown.stdout.contains("fetch  tool_call handler=http attempts=5 timeout=30s"))

            let wrongType = try TrellisBinary.run(["template", "instantiate", "http-etl", "--workflow", "x", "--param", "source_url=5"] + url)
            #expect(wrongType.status == 1)
            #expect(wrongType.stderr.contains(#"parameter "source_url" must be of type string, got 5"#))
            let missing = try TrellisBinary.run(["template", "instantiate", "http-etl", "--workflow", "x"] + url)
            #expect(missing.stderr.contains("needs parameter(s) source_url"))
            let badPair = try TrellisBinary.run(["template", "instantiate", "http-etl", "--workflow", "x", "--param", "oops"] + url)
            #expect(badPair.stderr == "Error: --param needs name=value, got \"oops\"\n")

            // The exported template imports back unchanged.
            let json = try TrellisBinary.run(["template", "show", "http-etl", "--json"] + url)
            let file = try temporaryFile("tpl.json", json.stdout)
            #expect(try TrellisBinary.run(["template", "import", file] + url).stdout == "unchanged: template http-etl version 1 is identical\n")
        }
    }
}
