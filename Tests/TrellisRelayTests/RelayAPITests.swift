import Foundation
import Testing
import TrellisCore
import TrellisPQ
import TrellisStore
import TrellisTestSupport

/// The HTTP API beyond runs: workflows, templates, runs across workflows, node detail,
/// stats, and the administrators' principals, grants and tokens — each call against a real
/// relay and database, with the refusals a client meets.
@Suite("Relay API")
struct RelayAPITests {
    func items(_ value: JSONValue?) -> [JSONValue] {
        if case .array(let list)? = value { return list }
        return []
    }

    func count(_ url: String, _ sql: String) async throws -> Int {
        try await PGConnection.withConnection(url) { try await $0.query(sql).single().decode("n") }
    }

    /// Seeds, a `viewer` allowed to view linear-pipeline only, and a `stranger` with no grants.
    func seeded(_ db: TestDatabase) async throws {
        try await db.withConnection { conn in
            _ = try await Seeder(connection: conn).load(as: "admin")
            let principals = PrincipalStore(connection: conn)
            for name in ["viewer", "stranger"] { _ = try await principals.create(name, as: "admin") }
            _ = try await principals.grant("view", on: "linear-pipeline", to: "viewer", as: "admin")
        }
    }

    @Test func workflowsAreListedReadWithTheirGraphValidatedAndPublished() async throws {
        try await TestDatabase.withMigrated { db in
            try await seeded(db)
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin"), viewer = try await relay.token(for: "viewer")
                let stranger = try await relay.token(for: "stranger")

                let all = try await relay.request("GET", "/v1/workflows", token: admin)
                #expect(all.status == 200)
                let names = items(try all.json()["workflows"]).compactMap { $0["name"]?.stringValue }
                #expect(names == names.sorted() && names.contains("fan-out-fan-in") && names.count == 7, "\(names)")
                let seen = items(try await relay.request("GET", "/v1/workflows", token: viewer).json()["workflows"])
                #expect(seen.count == 1 && seen[0]["name"] == .string("linear-pipeline"))
                #expect(seen[0]["privileges"] == .array([.string("view")]))
                #expect(items(try await relay.request("GET", "/v1/workflows", token: stranger).json()["workflows"]).isEmpty)

                // The graph: fan-out-fan-in is plan → 3 searches → gather → report, four levels.
                let doc = try await relay.request("GET", "/v1/workflows/fan-out-fan-in", token: admin).json()
                #expect(doc["version"] == .number(1) && doc["latest_version"] == .number(1))
                #expect(doc["graph"]?["levels"] == .number(4))
                let nodes = items(doc["graph"]?["nodes"])
                #expect(nodes.map { $0["key"]?.stringValue ?? "" } == ["plan", "search_web", "search_papers", "search_code", "gather", "report"])
                #expect(nodes.map { $0["level"]?.doubleValue ?? -1 } == [0, 1, 1, 1, 2, 3])
                #expect(nodes[0]["handler"] == .string("echo") && nodes[4]["kind"] == .string("join"))
                #expect(items(doc["graph"]?["edges"]).count == 7)
                #expect(doc["definition"]?["name"] == .string("fan-out-fan-in"))
                let branch = try await relay.request("GET", "/v1/workflows/condition-branch", token: admin).json()
                #expect(items(branch["graph"]?["edges"]).contains { $0["label"] != nil || $0["condition"] != nil }, "\(branch)")

                // Refusals: no view, unknown workflow, unknown version, a version that is not a number.
                let hidden = try await relay.request("GET", "/v1/workflows/fan-out-fan-in", token: viewer)
                #expect(hidden.status == 403 && hidden.errorCode == "forbidden")
                #expect(try await relay.request("GET", "/v1/workflows/nope", token: admin).status == 404)
                let noVersion = try await relay.request("GET", "/v1/workflows/fan-out-fan-in/versions/9", token: admin)
                #expect(noVersion.status == 404 && noVersion.body.contains("no version 9"), "\(noVersion.body)")
                let badVersion = try await relay.request("GET", "/v1/workflows/fan-out-fan-in/versions/x", token: admin)
                #expect(badVersion.status == 400 && badVersion.body.contains("version"), "\(badVersion.body)")

                // Validate: every problem with the CLI's codes; nothing written.
                let before = try await count(db.url, "SELECT count(*) AS n FROM trellis.workflow_versions")
                let bad = #"{"name": "broken", "nodes": [{"key": "a", "kind": "tool_call"}, {"key": "a", "kind": "nonsense"}], "edges": [{"from": "a", "to": "zz"}]}"#
                let problems = try await relay.request("POST", "/v1/workflows:validate", token: stranger, body: bad).json()
                #expect(problems["valid"] == .bool(false))
                let codes = items(problems["problems"]).compactMap { $0["code"]?.stringValue }
                #expect(codes.count >= 2 && codes.allSatisfy { $0.hasPrefix("TR") }, "\(codes)")
                let good = try await relay.request("POST", "/v1/workflows:validate", token: stranger, body: Self.definition("api-made", handler: "echo"))
                #expect(try good.json()["valid"] == .bool(true) && items(try good.json()["problems"]).isEmpty)

                // Publish: refused definitions write nothing; a new one is 201, the same again 200.
                let refused = try await relay.request("POST", "/v1/workflows", token: stranger, body: bad)
                #expect(refused.status == 400 && refused.errorCode == "invalid_input", "\(refused.body)")
                let garbage = try await relay.request("POST", "/v1/workflows", token: stranger, body: "{not json")
                #expect(garbage.status == 400, "\(garbage.body)")
                #expect(try await count(db.url, "SELECT count(*) AS n FROM trellis.workflow_versions") == before)
                let published = try await relay.request("POST", "/v1/workflows", token: stranger, body: Self.definition("api-made", handler: "echo"))
                #expect(try published.status == 201 && (try published.json()["version"]) == .number(1), "\(published.body)")
                let again = try await relay.request("POST", "/v1/workflows", token: stranger, body: Self.definition("api-made", handler: "echo"))
                #expect(try again.status == 200 && (try again.json()["created"]) == .bool(false))
                let yaml = "name: api-made\nnodes:\n  - key: only\n    kind: tool_call\n    handler: sleep\n"
                let second = try await relay.request("POST", "/v1/workflows", token: stranger, body: yaml, headers: ["Content-Type": "application/yaml"])
                #expect(try second.status == 201 && (try second.json()["version"]) == .number(2), "\(second.body)")
                // The publisher owns it; someone else may not add a version.
                let foreign = try await relay.request("POST", "/v1/workflows", token: viewer, body: Self.definition("api-made", handler: "fail"))
                #expect(foreign.status == 403, "\(foreign.body)")
                let versions = items(try await relay.request("GET", "/v1/workflows/api-made/versions", token: stranger).json()["versions"])
                #expect(versions.map { $0["version"]?.doubleValue ?? 0 } == [2, 1] && versions[0]["author"] == .string("stranger"))
                let v1 = try await relay.request("GET", "/v1/workflows/api-made/versions/1", token: stranger).json()
                #expect(items(v1["graph"]?["nodes"]).first?["handler"] == .string("echo"))
                #expect(try await relay.request("GET", "/v1/workflows", token: nil).status == 401)
            }
        }
    }

    static func definition(_ name: String, handler: String) -> String {
        #"{"name": "\#(name)", "nodes": [{"key": "only", "kind": "tool_call", "handler": "\#(handler)"}]}"#
    }

    @Test func templatesAreListedReadAndInstantiated() async throws {
        try await TestDatabase.withMigrated { db in
            try await seeded(db)
            try await RelayHarness.with(db.url) { relay in
                let viewer = try await relay.token(for: "viewer")
                let list = items(try await relay.request("GET", "/v1/templates", token: viewer).json()["templates"])
                #expect(list.compactMap { $0["name"]?.stringValue } == ["approval-gate", "http-etl"], "\(list)")
                let template = try await relay.request("GET", "/v1/templates/http-etl", token: viewer).json()
                #expect(template["version"] == .number(1) && !items(template["parameters"]).isEmpty)
                #expect(try await relay.request("GET", "/v1/templates/nope", token: viewer).status == 404)
                #expect(try await relay.request("GET", "/v1/templates/http-etl?version=7", token: viewer).status == 404)

                let required = items(template["parameters"]).filter { $0["default"] == nil }.compactMap { $0["name"]?.stringValue }
                let before = try await count(db.url, "SELECT count(*) AS n FROM trellis.workflow_versions")
                let unknown = try await relay.request("POST", "/v1/templates/http-etl/instantiate", token: viewer,
                                                      body: #"{"workflow": "etl-1", "parameters": {"no_such_parameter": 1}}"#)
                #expect(unknown.status == 400 && unknown.body.contains("no_such_parameter"), "\(unknown.body)")
                let extra = try await relay.request("POST", "/v1/templates/http-etl/instantiate", token: viewer, body: #"{"workflow": "etl-1", "bogus": 1}"#)
                #expect(extra.status == 400 && extra.body.contains("bogus"))
                #expect(try await count(db.url, "SELECT count(*) AS n FROM trellis.workflow_versions") == before)

                var parameters: [String] = []
                for parameter in items(template["parameters"]) where parameter["default"] == nil {
                    let name = parameter["name"]?.stringValue ?? ""
                    let value = parameter["type"]?.stringValue == "integer" || parameter["type"]?.stringValue == "number" ? "1" : #""https://example.test/x""#
                    parameters.append(#""\#(name)": \#(value)"#)
                }
                let made = try await relay.request("POST", "/v1/templates/http-etl/instantiate", token: viewer,
                                                   body: #"{"workflow": "etl-1", "parameters": {\#(parameters.joined(separator: ", "))}}"#)
                #expect(made.status == 201, "required \(required): \(made.body)")
                let doc = try await relay.request("GET", "/v1/workflows/etl-1", token: viewer).json()
                #expect(doc["template"]?["name"] == .string("http-etl"))
            }
        }
    }

    @Test func runsAcrossWorkflowsPageByCursorAndShowTheirGraphProgressAndNodes() async throws {
        try await TestDatabase.withMigrated { db in
            try await seeded(db)
            let started = try await db.withConnection { conn in
                let runs = RunStore(connection: conn)
                var ids: [UUID] = []
                for _ in 0..<7 { ids.append(try await runs.start("linear-pipeline", as: "admin").runID) }
                // `run` without `view`: stranger may start these but not list them.
                _ = try await PrincipalStore(connection: conn).grant("run", on: "fan-out-fan-in", to: "stranger", as: "admin")
                for _ in 0..<5 { ids.append(try await runs.start("fan-out-fan-in", input: #"{"topic": "t"}"#, as: "stranger").runID) }
                return ids
            }
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin"), viewer = try await relay.token(for: "viewer")

                // Every run once, newest first, in pages of 5 that follow next_cursor.
                var seen: [String] = [], cursor: String? = nil, pages = 0
                repeat {
                    let path = "/v1/runs?limit=5" + (cursor.map { "&cursor=\($0)" } ?? "")
                    let page = try await relay.request("GET", path, token: admin).json()
                    seen += items(page["runs"]).compactMap { $0["run_id"]?.stringValue }
                    cursor = page["next_cursor"]?.stringValue
                    pages += 1
                } while cursor != nil && pages < 10
                #expect(pages == 3 && seen.count == 12 && Set(seen) == Set(started.map { $0.uuidString.lowercased() }))
                #expect(seen == started.reversed().map { $0.uuidString.lowercased() })

                let fanOut = items(try await relay.request("GET", "/v1/runs?workflow=fan-out-fan-in&status=queued", token: admin).json()["runs"])
                #expect(fanOut.count == 5 && fanOut.allSatisfy { $0["workflow"] == .string("fan-out-fan-in") })
                let byViewer = items(try await relay.request("GET", "/v1/runs?started_by=stranger", token: admin).json()["runs"])
                #expect(byViewer.count == 5)
                let window = items(try await relay.request("GET", "/v1/runs?since=2000-01-01T00:00:00Z&until=2001-01-01T00:00:00Z", token: admin).json()["runs"])
                #expect(window.isEmpty)
                // The viewer sees linear-pipeline's runs only; stranger, who started the fan-out runs, sees none.
                let visible = items(try await relay.request("GET", "/v1/runs?limit=100", token: viewer).json()["runs"])
                #expect(visible.count == 7 && visible.allSatisfy { $0["workflow"] == .string("linear-pipeline") })
                let stranger = try await relay.token(for: "stranger")
                #expect(items(try await relay.request("GET", "/v1/runs", token: stranger).json()["runs"]).isEmpty)
                for (query, word) in [("cursor=garbage", "cursor"), ("status=sleeping", "status"), ("since=yesterday", "since"),
                                      ("limit=0", "limit"), ("limit=x", "limit"), ("started_by=ghost", "ghost")] {
                    let refused = try await relay.request("GET", "/v1/runs?\(query)", token: admin)
                    #expect([400, 404].contains(refused.status) && refused.body.contains(word), "\(query): \(refused.body)")
                }
                #expect(try await relay.request("GET", "/v1/runs?workflow=fan-out-fan-in", token: viewer).status == 403)

                // The snapshot before anything ran: the graph, every node pending/ready, 0 %.
                let run = started[7].uuidString.lowercased()
                let before = try await relay.request("GET", "/v1/runs/\(run)", token: admin).json()
                #expect(before["progress"]?["percent"] == .number(0) && before["progress"]?["total"] == .number(6))
                #expect(before["graph"]?["levels"] == .number(4) && items(before["graph"]?["edges"]).count == 7)
                #expect(items(before["nodes"]).map { $0["level"]?.doubleValue ?? -1 } == [0, 1, 1, 1, 2, 3])

                try await RelayHarness.withScheduler(db.url) {
                    try await waitUntil(timeout: .seconds(60), "every run to finish") {
                        try await count(db.url, "SELECT count(*) AS n FROM trellis.workflow_runs WHERE finished_at IS NULL") == 0
                    }
                }
                let after = try await relay.request("GET", "/v1/runs/\(run)", token: admin).json()
                #expect(after["status"] == .string("succeeded") && after["progress"]?["percent"] == .number(100), "\(after)")
                #expect(items(after["nodes"]).allSatisfy { $0["status"] == .string("succeeded") }, "\(after)")
                // Nodes a handler ran have timings (a join settles without running).
                #expect(items(after["nodes"]).filter { $0["handler"] != nil }.allSatisfy { $0["duration_ms"] != nil && $0["attempts"] == .number(1) })

                // Node detail: input, output, every attempt; bad key or log count refused.
                let node = try await relay.request("GET", "/v1/runs/\(run)/nodes/plan?logs=5", token: admin).json()
                #expect(node["status"] == .string("succeeded") && node["input"]?["topic"] == .string("t"), "\(node)")
                #expect(items(node["attempt_history"]).count == 1 && node["attempt_history"]?[0]?["outcome"] == .string("succeeded"))
                #expect(node["output"] != nil && node["logs"] == .array([]))
                let missing = try await relay.request("GET", "/v1/runs/\(run)/nodes/nope", token: admin)
                #expect(missing.status == 404 && missing.body.contains("nope"))
                #expect(try await relay.request("GET", "/v1/runs/\(run)/nodes/plan?logs=-1", token: admin).status == 400)
                #expect(try await relay.request("GET", "/v1/runs/\(run)/nodes/plan", token: viewer).status == 403)

                // Stats over the window: per workflow, only what the token may view.
                let stats = try await relay.request("GET", "/v1/stats?since=1h", token: admin).json()
                let rows = items(stats["workflows"])
                #expect(rows.count == 2 && rows.allSatisfy { $0["runs"] != nil }, "\(stats)")
                #expect(rows.first { $0["workflow"] == .string("fan-out-fan-in") }?["succeeded"] == .number(5))
                #expect(items(try await relay.request("GET", "/v1/stats", token: viewer).json()["workflows"]).count == 1)
                #expect(try await relay.request("GET", "/v1/stats?since=soon", token: admin).status == 400)
            }
        }
    }

    @Test func administratorsManagePrincipalsGrantsAndTokensOthersAreRefused() async throws {
        try await TestDatabase.withMigrated { db in
            try await seeded(db)
            try await RelayHarness.with(db.url) { relay in
                let admin = try await relay.token(for: "admin"), viewer = try await relay.token(for: "viewer")
                for path in ["/v1/principals", "/v1/grants", "/v1/tokens"] {
                    let refused = try await relay.request("GET", path, token: viewer)
                    #expect(refused.status == 403 && refused.body.contains("administrators only"), "\(path): \(refused.body)")
                }
                let principals = items(try await relay.request("GET", "/v1/principals", token: admin).json()["principals"])
                let principalNames = Set(principals.compactMap { $0["name"]?.stringValue })
                #expect(principalNames.isSuperset(of: ["admin", "viewer", "stranger"]), "\(principalNames)")

                let created = try await relay.request("POST", "/v1/principals", token: admin, body: #"{"name": "ci-bot", "kind": "service"}"#)
                #expect(created.status == 201, "\(created.body)")
                #expect(try await relay.request("POST", "/v1/principals", token: admin, body: #"{"name": "ci-bot"}"#).status == 409)
                #expect(try await relay.request("POST", "/v1/principals", token: viewer, body: #"{"name": "sneaky"}"#).status == 403)
                #expect(try await relay.request("POST", "/v1/principals", token: admin, body: #"{"name": "x", "is_admin": "yes"}"#).status == 400)
                #expect(try await count(db.url, "SELECT count(*) AS n FROM trellis.principals WHERE name IN ('sneaky', 'x')") == 0)

                let grant = try await relay.request("POST", "/v1/grants", token: admin,
                                                    body: #"{"workflow": "fan-out-fan-in", "principal": "ci-bot", "privilege": "run"}"#)
                #expect(try grant.status == 200 && (try grant.json()["changed"]) == .bool(true), "\(grant.body)")
                let grants = items(try await relay.request("GET", "/v1/grants?workflow=fan-out-fan-in", token: admin).json()["grants"])
                #expect(grants.contains { $0["principal"] == .string("ci-bot") && $0["privilege"] == .string("run") })
                #expect(grants.contains { $0["privilege"] == .string("owner") })
                let badPrivilege = try await relay.request("POST", "/v1/grants", token: admin,
                                                           body: #"{"workflow": "fan-out-fan-in", "principal": "ci-bot", "privilege": "root"}"#)
                #expect(badPrivilege.status == 400 && badPrivilege.body.contains("root"))

                // A token made over HTTP works at once; listing never shows a secret; revoked, it stops.
                let issued = try await relay.request("POST", "/v1/tokens", token: admin, body: #"{"principal": "ci-bot", "description": "deploys"}"#)
                #expect(issued.status == 201, "\(issued.body)")
                let secret = try #require(try issued.json()["token"]?.stringValue), prefix = try #require(try issued.json()["prefix"]?.stringValue)
                let started = try await relay.request("POST", "/v1/workflows/fan-out-fan-in/runs", token: secret, body: #"{"input": {"topic": "x"}}"#)
                #expect(started.status == 202, "\(started.body)")
                let tokens = try await relay.request("GET", "/v1/tokens?principal=ci-bot", token: admin)
                #expect(try tokens.body.contains(prefix) && !tokens.body.contains(secret) && items(try tokens.json()["tokens"]).count == 1)
                let revoked = try await relay.request("DELETE", "/v1/tokens/\(prefix)", token: admin)
                #expect(try revoked.status == 200 && (try revoked.json()["revoked"]) == .bool(true))
                #expect(try await relay.request("GET", "/v1/runs", token: secret).status == 401)
                #expect(try await relay.request("POST", "/v1/tokens", token: admin, body: #"{"principal": "ci-bot", "expires_at": "tomorrow"}"#).status == 400)
                #expect(try await relay.request("POST", "/v1/tokens", token: viewer, body: #"{"principal": "viewer"}"#).status == 403)

                let ungrant = try await relay.request("DELETE", "/v1/grants/fan-out-fan-in/ci-bot/run", token: admin)
                #expect(try ungrant.status == 200 && (try ungrant.json()["changed"]) == .bool(true))
                let twice = try await relay.request("DELETE", "/v1/grants/fan-out-fan-in/ci-bot/run", token: admin)
                #expect((try twice.json()["changed"]) == .bool(false))
            }
        }
    }
}
