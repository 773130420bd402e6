import Foundation
import Testing
import TrellisPQ
@testable import TrellisStore
import TrellisTestSupport

@Suite("Principals and privileges")
struct PermissionTests {
    @Test func grantRevokeAndCheck() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let principals = PrincipalStore(connection: conn)
                try await principals.create("alice", as: "admin")
                try await principals.create("bob", kind: "service", as: "admin")
                _ = try await WorkflowStore(connection: conn).publish(definition: pipeline, as: "alice")

                // The author owns the new workflow; others hold nothing yet.
                for privilege in PrincipalStore.privileges {
                    #expect(try await principals.hasPrivilege("alice", privilege, on: "pipeline"))
                    #expect(try await principals.hasPrivilege("bob", privilege, on: "pipeline") == false)
                    #expect(try await principals.hasPrivilege("admin", privilege, on: "pipeline"))
                }
                #expect(try await principals.grant("view", on: "pipeline", to: "bob", as: "alice"))
                #expect(try await principals.grant("view", on: "pipeline", to: "bob", as: "alice") == false)  // idempotent
                #expect(try await principals.hasPrivilege("bob", "view", on: "pipeline"))
                #expect(try await principals.hasPrivilege("bob", "run", on: "pipeline") == false)

                // admin implies the rest.
                try await principals.grant("admin", on: "pipeline", to: "bob", as: "admin")
                #expect(try await principals.hasPrivilege("bob", "approve", on: "pipeline"))
                #expect(try await principals.revoke("admin", on: "pipeline", from: "bob", as: "alice"))
                #expect(try await principals.revoke("admin", on: "pipeline", from: "bob", as: "alice") == false)
                #expect(try await principals.hasPrivilege("bob", "approve", on: "pipeline") == false)

                let grants = try await principals.grants(workflow: "pipeline")
                #expect(grants.map { "\($0.principal):\($0.privilege)" } == ["alice:owner", "bob:view"])
                #expect(grants.last?.grantedBy == "alice")
                #expect(try await principals.hasPrivilege("ghost", "view", on: "pipeline") == false)
                #expect(try await principals.hasPrivilege("bob", "view", on: "no-such-workflow") == false)
            }
        }
    }

    @Test func rolesPassPrivilegesToMembers() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let principals = PrincipalStore(connection: conn)
                try await principals.create("ops", kind: "role", as: "admin")
                try await principals.create("carol", as: "admin")
                _ = try await WorkflowStore(connection: conn).publish(definition: pipeline, as: "admin")
                try await principals.grant("approve", on: "pipeline", to: "ops", as: "admin")
                #expect(try await principals.hasPrivilege("carol", "approve", on: "pipeline") == false)
                _ = try await conn.query("SELECT trellis.add_role_member('ops', 'carol')")
                #expect(try await principals.hasPrivilege("carol", "approve", on: "pipeline"))
                #expect(try await principals.list().first { $0.name == "carol" }?.roles == ["ops"])
                let notRole = await #expect(throws: PGError.self) {
                    try await conn.query("SELECT trellis.add_role_member('carol', 'ops')")
                }
                #expect(notRole?.message == #"principal "carol" is not a role"#)
            }
        }
    }

    @Test func refusalsNameTheProblemAndChangeNothing() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let principals = PrincipalStore(connection: conn)
                try await principals.create("alice", as: "admin")
                try await principals.create("mallory", as: "admin")
                _ = try await WorkflowStore(connection: conn).publish(definition: pipeline, as: "alice")

                let notAdmin = await #expect(throws: PGError.self) {
                    try await principals.grant("edit", on: "pipeline", to: "mallory", as: "mallory")
                }
                #expect(notAdmin?.sqlState == "42501")
                #expect(notAdmin?.message == #"principal "mallory" lacks the "admin" privilege on workflow "pipeline""#)

                let badPrivilege = await #expect(throws: PGError.self) {
                    try await principals.grant("superpower", on: "pipeline", to: "mallory", as: "alice")
                }
                #expect(badPrivilege?.sqlState == "22023")
                #expect(badPrivilege?.message.contains(#""superpower""#) == true)

                let unknownPrincipal = await #expect(throws: PGError.self) {
                    try await principals.grant("view", on: "pipeline", to: "ghost", as: "alice")
                }
                #expect(unknownPrincipal?.sqlState == "TR404")
                #expect(unknownPrincipal?.message == #"unknown principal "ghost""#)

                let unknownWorkflow = await #expect(throws: PGError.self) {
                    try await principals.grant("view", on: "nope", to: "mallory", as: "alice")
                }
                #expect(unknownWorkflow?.message == #"unknown workflow "nope""#)

                let duplicate = await #expect(throws: PGError.self) { try await principals.create("alice", as: "admin") }
                #expect(duplicate?.sqlState == SQLState.uniqueViolation)
                let badName = await #expect(throws: PGError.self) { try await principals.create("Bad Name", as: "admin") }
                #expect(badName?.sqlState == "22023")
                let nonAdminCreate = await #expect(throws: PGError.self) { try await principals.create("eve", as: "alice") }
                #expect(nonAdminCreate?.sqlState == "42501")
                #expect(nonAdminCreate?.message == #"principal "alice" may not create principals (administrators only)"#)

                #expect(try await principals.grants(workflow: "pipeline").map(\.principal) == ["alice"])
                #expect(try await principals.list().map(\.name) == ["admin", "alice", "mallory"])
            }
        }
    }

    @Test func newVersionNeedsEdit() async throws {
        try await TestDatabase.withMigrated { db in
            try await db.withConnection { conn in
                let principals = PrincipalStore(connection: conn)
                let workflows = WorkflowStore(connection: conn)
                try await principals.create("alice", as: "admin")
                try await principals.create("bob", as: "admin")
                _ = try await workflows.publish(definition: pipeline, as: "alice")
                let changed = pipeline.replacingOccurrences(of: "three steps", with: "bob's steps")

                let refused = await #expect(throws: PGError.self) { try await workflows.publish(definition: changed, as: "bob") }
                #expect(refused?.sqlState == "42501")
                #expect(refused?.message == #"principal "bob" lacks the "edit" privilege on workflow "pipeline""#)
                #expect(try await definitionRowCounts(conn) == [1, 1, 5, 5])

                try await principals.grant("edit", on: "pipeline", to: "bob", as: "alice")
                #expect(try await workflows.publish(definition: changed, as: "bob").version == 2)
                #expect(try await workflows.version("pipeline").author == "bob")

                let unknownAuthor = await #expect(throws: PGError.self) { try await workflows.publish(definition: changed, as: "ghost") }
                #expect(unknownAuthor?.sqlState == "TR404")
            }
        }
    }
}
