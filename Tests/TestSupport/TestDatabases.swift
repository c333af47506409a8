import Foundation
public import Logging
public import Platform
import SQLKit

/// Real databases for integration tests: a fresh SQLite file, or a fresh PostgreSQL
/// database on the server named by `SHOP_TEST_DATABASE_URL` (started by `scripts/test`).
public enum TestDatabases {
    public static let logger = Logger(label: "test")

    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["SHOP_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// Whether tests that need PostgreSQL run: when it is configured, or required
    /// (``Backends/required``, and then they fail without it).
    public static var postgresAvailable: Bool { postgresURL != nil || Backends.required }

    /// The engines a test runs on: SQLite always, PostgreSQL when configured or required.
    /// Dropping PostgreSQL is said on standard error, naming the suite's file.
    public static func kinds(_ file: String = #fileID) -> [DatabaseKind] {
        guard postgresAvailable else {
            Backends.reportSkip("SHOP_TEST_DATABASE_URL", in: "the PostgreSQL cases of \(file)")
            return [.sqlite]
        }
        return [.sqlite, .postgres]
    }

    public static func with<Result: Sendable>(
        _ kind: DatabaseKind,
        _ body: @Sendable (any Database) async throws -> Result
    ) async throws -> Result {
        switch kind {
        case .sqlite: try await withSQLite(body)
        case .postgres: try await withPostgres(body)
        }
    }

    public static func withSQLite<Result: Sendable>(_ body: (any Database) async throws -> Result) async throws -> Result {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let database = try await SQLiteDatabase.open(path: directory.appendingPathComponent("test.sqlite").path, logger: logger)
        do {
            let result = try await body(database)
            try await database.close()
            return result
        } catch {
            try? await database.close()
            throw error
        }
    }

    public static func withPostgres<Result: Sendable>(_ body: @Sendable (any Database) async throws -> Result) async throws -> Result {
        try await withPostgresURL { url in
            let database = PostgresDatabase(url: url, maxConnections: 10, logger: logger)
            return try await database.withRunning { try await body(database) }
        }
    }

    /// A new, empty PostgreSQL database for the duration of `body`, dropped afterwards.
    public static func withPostgresURL<Result: Sendable>(_ body: @Sendable (DatabaseURL) async throws -> Result) async throws -> Result {
        guard let raw = postgresURL else {
            throw MissingBackend("PostgreSQL: SHOP_TEST_DATABASE_URL is not set (scripts/test starts a server and sets it)")
        }
        let admin = try DatabaseURL(raw)
        let name = "test_\(UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20))"
        try await adminQuery(admin, "CREATE DATABASE \(name)")
        var url = admin
        url.database = name
        do {
            let result = try await body(url)
            try await adminQuery(admin, "DROP DATABASE \(name) WITH (FORCE)")
            return result
        } catch {
            try? await adminQuery(admin, "DROP DATABASE \(name) WITH (FORCE)")
            throw error
        }
    }

    /// `count` new databases at once, as one service per process needs them.
    public static func withPostgresURLs<Result: Sendable>(
        _ count: Int,
        _ body: @Sendable ([DatabaseURL]) async throws -> Result
    ) async throws -> Result {
        guard count > 0 else { return try await body([]) }
        return try await withPostgresURL { first in
            try await withPostgresURLs(count - 1) { rest in try await body([first] + rest) }
        }
    }

    private static func adminQuery(_ url: DatabaseURL, _ sql: String) async throws {
        let admin = PostgresDatabase(url: url, maxConnections: 1, logger: logger)
        try await admin.withRunning {
            try await admin.read { try await $0.raw(SQLQueryString(sql)).run() }
        }
    }
}

/// `SHOP_TEST_DATABASE_URL` is not set: `scripts/test` sets it.
