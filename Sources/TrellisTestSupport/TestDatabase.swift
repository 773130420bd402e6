import Foundation
import TrellisPQ
import TrellisStore

/// A fresh database for one test: created on the test server, handed to the body, and
/// dropped afterwards (even when the body throws). Tests never share a database, so they
/// are independent of order and run in parallel.
public struct TestDatabase: Sendable {
    public let name: String
    public let url: String

    /// Runs `body` with a new, empty database.
    public static func withEmpty<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        try await with(migrated: false, body)
    }

    /// Runs `body` with a new database at the current schema (all migrations and definitions).
    public static func withMigrated<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        try await with(migrated: true, body)
    }

    /// A migrated database with the seeds loaded (as `admin`), and a connection to it:
    /// the set-up most engine tests share.
    public static func withSeeded<T: Sendable>(_ body: (TestDatabase, PGConnection) async throws -> T) async throws -> T {
        try await withMigrated { db in
            try await db.withConnection { conn in
                _ = try await Seeder(connection: conn).load(as: "admin")
                return try await body(db, conn)
            }
        }
    }

    /// A migrated database on a cluster of its own, stopped and deleted afterwards. For
    /// tests whose outcome depends on every transaction in the cluster: the run feed holds
    /// back events behind the oldest open transaction of any database, so another test's
    /// open transaction on the shared server would stall it for as long as it stays open.
    public static func withOwnCluster<T: Sendable>(_ body: (TestDatabase) async throws -> T) async throws -> T {
        try await PrivateCluster.with { cluster in
            try await body(TestDatabase(name: LocalCluster.databaseName, url: cluster.url))
        }
    }

    private static func with<T: Sendable>(migrated: Bool, _ body: (TestDatabase) async throws -> T) async throws -> T {
        let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        let template = migrated ? try await TestCluster.shared.migratedTemplate() : nil
        let admin = try await PGConnection.connect(try await TestCluster.shared.url(database: "postgres"))
        do {
            try await LocalCluster.createDatabase(String(name), template: template, on: admin)
        } catch {
            await admin.close()
            throw error
        }
        let database = TestDatabase(name: String(name), url: try await TestCluster.shared.url(database: String(name)))
        do {
            if migrated && template == nil {
                try await database.withConnection { try await Migrator(connection: $0).up() }
            }
            let value = try await body(database)
            try await drop(database, admin: admin)
            return value
        } catch {
            try? await drop(database, admin: admin)
            throw error
        }
    }

    private static func drop(_ database: TestDatabase, admin: PGConnection) async throws {
        let quoted = try await admin.quoteIdentifier(database.name)
        try await admin.execute(script: "DROP DATABASE IF EXISTS \(quoted) WITH (FORCE)")
        await admin.close()
    }

    /// Opens a new connection to this database.
    public func connect() async throws -> PGConnection {
        try await PGConnection.connect(url)
    }

    /// Opens a connection, runs `body`, and closes it.
    @discardableResult
    public func withConnection<T: Sendable>(_ body: (PGConnection) async throws -> T) async throws -> T {
        try await PGConnection.withConnection(url, body)
    }

    /// Runs `body` with the URL of a new login role in `role` (a generated name, quoted by
    /// libpq), dropped afterwards even when `body` throws — roles are cluster-wide, unlike
    /// the database. For tests of what a database role may and may not do.
    public func withLogin<T: Sendable>(inRole role: String, _ body: (String) async throws -> T) async throws -> T {
        let login = "login_" + UUID().uuidString.prefix(8).lowercased()
        try await withConnection { conn in
            let name = try await conn.quoteIdentifier(login)
            try await conn.execute(script: "CREATE ROLE \(name) LOGIN PASSWORD 'test-login' IN ROLE \(try await conn.quoteIdentifier(role))")
        }
        var components = URLComponents(string: url)!
        components.user = login
        components.password = "test-login"
        func dropLogin() async throws {
            try await withConnection { conn in
                try await conn.execute(script: "DROP ROLE IF EXISTS \(try await conn.quoteIdentifier(login))")
            }
        }
        do {
            let value = try await body(components.string!)
            try await dropLogin()
            return value
        } catch {
            try? await dropLogin()
            throw error
        }
    }
}
