import Foundation
import Platform
import SQLKit
import TestSupport
import Testing

private struct Rollback: Error {}

@Suite struct DatabaseTests {
    private static let migrations = [
        Migration(1, "create things", statements: ["CREATE TABLE things (id BIGINT PRIMARY KEY, label TEXT NOT NULL)"]),
        Migration(2, "index things", statements: ["CREATE INDEX things_label_idx ON things (label)"]),
    ]

    private func count(_ database: any Database, _ table: String = "things") async throws -> Int {
        try await database.read {
            try await $0.raw("SELECT COUNT(*) AS n FROM \(unsafeRaw: table)").first(decodingColumn: "n", as: Int.self) ?? -1
        }
    }

    /// A task cancelled in the middle of a transaction (a consumer stopped mid-handling)
    /// leaves nothing written and the connection ready for the next transaction.
    @Test(arguments: TestDatabases.kinds())
    func aCancelledTransactionRollsBackAndTheNextOneWorks(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            let started = AsyncStream<Void>.makeStream()
            let stuck = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO things (id, label) VALUES (1, 'half')").run()
                    started.continuation.yield()
                    try await Task.sleep(for: .seconds(600))
                }
            }
            var iterator = started.stream.makeAsyncIterator()
            await iterator.next()
            stuck.cancel()
            _ = await stuck.result
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO things (id, label) VALUES (2, 'whole')").run()
            }
            #expect(try await count(database) == 1)
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func migrationsApplyOnceAndAreRecorded(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            let migrator = Migrator(Self.migrations, logger: TestDatabases.logger)
            #expect(try await migrator.migrate(database) == [1, 2])
            #expect(try await migrator.migrate(database) == [])
            #expect(try await count(database, "schema_migrations") == 2)
            let extended = Migrator(
                Self.migrations + [Migration(3, "add colour", statements: ["ALTER TABLE things ADD COLUMN colour TEXT"])],
                logger: TestDatabases.logger
            )
            #expect(try await extended.migrate(database) == [3])
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func anEditedMigrationIsRefused(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            let renamed = [Migration(1, "create stuff", statements: [])] + Self.migrations.dropFirst()
            await #expect(throws: MigrationMismatch.self) {
                try await Migrator(renamed, logger: TestDatabases.logger).migrate(database)
            }
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func concurrentMigratorsApplyEachStepOnce(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask { try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database) }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.sorted() == [1, 2])
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func aThrowingTransactionWritesNothing(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            await #expect(throws: Rollback.self) {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO things (id, label) VALUES (1, 'a')").run()
                    throw Rollback()
                }
            }
            #expect(try await count(database) == 0)
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO things (id, label) VALUES (1, 'a')").run()
            }
            #expect(try await count(database) == 1)
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func uniqueViolationsAreRecognisedOnBothEngines(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            try await database.transaction { try await $0.raw("INSERT INTO things (id, label) VALUES (1, 'a')").run() }
            do {
                try await database.transaction { try await $0.raw("INSERT INTO things (id, label) VALUES (1, 'b')").run() }
                Issue.record("the duplicate insert succeeded")
            } catch {
                #expect(DatabaseErrors.isUniqueViolation(error))
            }
        }
    }

    @Test(arguments: TestDatabases.kinds())
    func concurrentWritersAllCommit(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for id in 1...50 {
                    group.addTask {
                        try await database.transaction { sql in
                            try await sql.raw("INSERT INTO things (id, label) VALUES (\(bind: id), \(bind: "t\(id)"))").run()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await count(database) == 50)
        }
    }

    @Test func databaseURLsAreParsedAndWrongOnesExplained() throws {
        let url = try DatabaseURL("postgres://shop:s%40cret@db.local:6543/users?sslmode=require")
        #expect(url.host == "db.local")
        #expect(url.port == 6543)
        #expect(url.username == "shop")
        #expect(url.password == "s@cret")
        #expect(url.database == "users")
        #expect(url.requireTLS)
        #expect(throws: InvalidValue.self) { try DatabaseURL("mysql://x@h/db") }
        #expect(throws: InvalidValue("has no database name")) { try DatabaseURL("postgres://x@h") }
        #expect(throws: InvalidValue.self) { try DatabaseURL("postgres://x@h/db?sslmode=sometimes") }
    }

    @Test func timestampsRoundTripToTheMicrosecond() {
        let date = Date(microsecondsSince1970: 1_764_065_700_123_456)
        #expect(date.microsecondsSince1970 == 1_764_065_700_123_456)
    }
}
