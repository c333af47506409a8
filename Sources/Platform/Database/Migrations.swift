import Foundation
public import Logging
public import SQLKit

/// One step of a service's schema, applied once, in order, in its own transaction.
///
/// Migrations are forward-only: a released one is never edited or removed, only
/// followed by a new one. The same set runs on SQLite and PostgreSQL.
public struct Migration: Sendable {
    public let version: Int
    public let name: String
    public let apply: @Sendable (any SQLDatabase) async throws -> Void

    public init(_ version: Int, _ name: String, apply: @escaping @Sendable (any SQLDatabase) async throws -> Void) {
        self.version = version
        self.name = name
        self.apply = apply
    }

    /// A migration made of SQL statements that read the same on both engines.
    public init(_ version: Int, _ name: String, statements: [String]) {
        self.init(version, name) { database in
            for statement in statements {
                try await database.raw(SQLQueryString(statement)).run()
            }
        }
    }
}

/// A recorded migration that does not match the code: the schema cannot be trusted.
public struct MigrationMismatch: Error, CustomStringConvertible {
    public var version: Int
    public var recorded: String
    public var expected: String

    public var description: String {
        "migration \(version) is recorded as '\(recorded)' but this build calls it '\(expected)'"
    }
}

/// Applies a service's migrations and records them in `schema_migrations`.
public struct Migrator: Sendable {
    public let migrations: [Migration]
    let logger: Logger

    public init(_ migrations: [Migration], logger: Logger) {
        precondition(
            zip(migrations, migrations.dropFirst()).allSatisfy { $0.version < $1.version },
            "migrations must be in increasing version order"
        )
        self.migrations = migrations
        self.logger = logger
    }

    /// Applies what is missing; returns the versions applied now. Safe to run from
    /// several instances at once: on PostgreSQL an advisory lock, on SQLite the writer,
    /// lets one apply each step while the others wait and then skip it.
    @discardableResult
    public func migrate(_ database: any Database) async throws -> [Int] {
        try await database.transaction { sql in
            try await serialise(sql, on: database)
            try await sql.raw(
                """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version BIGINT PRIMARY KEY,
                    name TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """
            ).run()
        }
        var applied: [Int] = []
        for migration in migrations {
            let didApply = try await database.transaction { sql -> Bool in
                try await serialise(sql, on: database)
                let recorded = try await sql.raw(
                    "SELECT name FROM schema_migrations WHERE version = \(bind: migration.version)"
                ).first(decodingColumn: "name", as: String.self)
                if let recorded {
                    guard recorded == migration.name else {
                        throw MigrationMismatch(version: migration.version, recorded: recorded, expected: migration.name)
                    }
                    return false
                }
                try await migration.apply(sql)
                try await sql.raw(
                    """
                    INSERT INTO schema_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: Date().microsecondsSince1970))
                    """
                ).run()
                return true
            }
            if didApply {
                logger.info("applied migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
                applied.append(migration.version)
            }
        }
        let newest = try await database.read { sql in
            try await sql.raw("SELECT MAX(version) AS newest FROM schema_migrations").first(decodingColumn: "newest", as: Int?.self)
        }
        if let newest = newest ?? nil, let known = migrations.last?.version, newest > known {
            logger.warning("database schema is newer than this build", metadata: ["schema": "\(newest)", "build": "\(known)"])
        }
        return applied
    }

    /// Makes concurrent migrators on PostgreSQL take turns for the rest of the
    /// transaction (SQLite's single writer already does).
    private func serialise(_ sql: any SQLDatabase, on database: any Database) async throws {
        if database.kind == .postgres {
            try await sql.raw("SELECT pg_advisory_xact_lock(727274001)").run()
        }
    }
}

extension SQLDatabase {
    /// The column definition of a 64-bit id that the database assigns and never reuses.
    public var identityColumn: String {
        dialect.name == "sqlite"
            ? "INTEGER PRIMARY KEY AUTOINCREMENT"
            : "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    }
}
