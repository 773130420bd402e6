import Foundation
import Testing
import TrellisCore
import TrellisRelay
import TrellisTestSupport

/// The OpenAPI document against the relay itself: every route is documented, nothing is
/// documented that is not routed, every reference resolves, and the document is served
/// without a token. (schemathesis, in `APIFuzzTests`, holds the responses to it.)
@Suite("Relay contract")
struct RelayContractTests {
    static let methods = ["get", "post", "put", "patch", "delete"]

    func document(_ relay: RelayHarness) async throws -> JSONValue {
        let reply = try await relay.request("GET", "/v1/openapi.json", token: nil)
        #expect(reply.status == 200 && reply.headers["content-type"]?.contains("application/json") == true)
        return try JSONDecoder().decode(JSONValue.self, from: Data(reply.body.utf8))
    }

    @Test func everyRouteIsDocumentedAndEveryDocumentedRouteExists() async throws {
        try await TestDatabase.withMigrated { db in
            try await RelayHarness.with(db.url) { relay in
                let doc = try await document(relay)
                #expect(doc["openapi"] == .string("3.1.0"))
                guard case .object(let paths)? = doc["paths"] else { Issue.record("no paths"); return }
                var documented: Set<String> = []
                for (path, item) in paths {
                    for method in Self.methods where item[method] != nil { documented.insert("\(method.uppercased()) \(path)") }
                }
                let routed = Set(Relay(databaseURL: db.url).routes)
                #expect(routed.subtracting(documented).isEmpty, "routed but not documented: \(routed.subtracting(documented).sorted())")
                #expect(documented.subtracting(routed).isEmpty, "documented but not routed: \(documented.subtracting(routed).sorted())")
                #expect(routed.count >= 30, "\(routed.sorted())")
            }
        }
    }

    @Test func everyReferenceResolvesAndEveryOperationDocumentsItsErrors() async throws {
        try await TestDatabase.withMigrated { db in
            try await RelayHarness.with(db.url) { relay in
                let doc = try await document(relay)
                var references: [String] = []
                func walk(_ value: JSONValue) {
                    switch value {
                    case .object(let object):
                        if let ref = object["$ref"]?.stringValue { references.append(ref) }
                        object.values.forEach(walk)
                    case .array(let items): items.forEach(walk)
                    default: break
                    }
                }
                walk(doc)
                #expect(references.count > 100)
                for ref in Set(references) {
                    var node: JSONValue? = doc
                    for part in ref.dropFirst(2).split(separator: "/") { node = node?[String(part)] }
                    #expect(node != nil, "unresolved \(ref)")
                }
                // Every authenticated operation documents 401 and its error body.
                guard case .object(let paths)? = doc["paths"] else { return }
                for (path, item) in paths where path.hasPrefix("/v1/") && path != "/v1/openapi.json" {
                    for method in Self.methods {
                        guard let operation = item[method] else { continue }
                        #expect(operation["responses"]?["401"] != nil, "\(method) \(path) does not document 401")
                    }
                }
            }
        }
    }
}
