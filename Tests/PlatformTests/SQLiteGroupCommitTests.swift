import Foundation
import SQLKit
import TestSupport
import Testing

@testable import Platform

private struct Refused: Error {}

/// The SQLite writer's group commit: transactions that queue behind one share its commit,
/// each is all or nothing on its own, and none returns before its writes are durable.
@Suite struct SQLiteGroupCommitTests {
    private static let migrations = [
        Migration(1, "create things", statements: ["CREATE TABLE things (id BIGINT PRIMARY KEY, label TEXT NOT NULL)"])
    ]

    private func withDatabase(_ body: (SQLiteDatabase, String) async throws -> Void) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("test.sqlite").path
        let database = try await SQLiteDatabase.open(path: path, logger: TestDatabases.logger)
        do {
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            try await body(database, path)
            try await database.close()
        } catch {
            try? await database.close()
            throw error
        }
    }

    private func ids(in database: any Database) async throws -> Set<Int> {
        try await database.read {
            Set(try await $0.raw("SELECT id FROM things").all(decodingColumn: "id", as: Int.self))
        }
    }

    /// Waits until `count` transactions queue for the writer.
    private func waitForQueue(of count: Int, on database: SQLiteDatabase) async throws {
        for _ in 0..<10_000 where database.waitingTransactions < count {
            try await Task.sleep(for: .milliseconds(2))
        }
        #expect(database.waitingTransactions == count)
    }

    @Test func transactionsThatQueueBehindOneShareItsCommitAndEachFailureIsItsOwn() async throws {
        try await withDatabase { database, path in
            let commitsBefore = database.commits
            let (gate, opener) = AsyncStream<Void>.makeStream()
            let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
            // The first holds the writer until twenty others wait behind it.
            let first = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO things (id, label) VALUES (0, 'first')").run()
                    enteredSignal.yield()
                    for await _ in gate { break }
                }
            }
            for await _ in entered { break }
            let others = (1...20).map { id in
                Task { () -> Bool in
                    do {
                        try await database.transaction { sql in
                            try await sql.raw("INSERT INTO things (id, label) VALUES (\(bind: id), 'other')").run()
                            // Every fifth fails after writing: its row must not stay.
                            if id % 5 == 0 { throw Refused() }
                            // And one collides with the first's key.
                            if id == 7 { try await sql.raw("INSERT INTO things (id, label) VALUES (0, 'again')").run() }
                        }
                        return true
                    } catch is Refused {
                        return false
                    } catch {
                        #expect(DatabaseErrors.isUniqueViolation(error), "\(error)")
                        return false
                    }
                }
            }
            try await waitForQueue(of: 20, on: database)
            opener.yield()
            try await first.value
            var committed: Set<Int> = [0]
            for (offset, task) in others.enumerated() where await task.value {
                committed.insert(offset + 1)
            }

            #expect(committed == Set([0] + (1...20).filter { $0 % 5 != 0 && $0 != 7 }))
            #expect(try await ids(in: database) == committed)
            // One commit for all twenty-one.
            #expect(database.commits - commitsBefore == 1)

            // And the writes are in the file: a new connection reads them.
            let reopened = try await SQLiteDatabase.open(path: path, readers: 1, logger: TestDatabases.logger)
            let durable = try await ids(in: reopened)
            try await reopened.close()
            #expect(durable == committed)
        }
    }

    /// Columns read as the type they are stored as take a shortcut past the decoder; the
    /// answers must be the decoder's, and the other conversions still the decoder's own.
    @Test func columnsDecodeAsTheyAreStoredAndAsTheDecoderConverts() async throws {
        try await withDatabase { database, _ in
            let row = try #require(
                try await database.read {
                    try await $0.raw("SELECT 42 AS number, 'text' AS word, NULL AS absent, 1 AS flag, 2.5 AS ratio").first()
                }
            )
            #expect(try row.decode(column: "number", as: Int64.self) == 42)
            #expect(try row.decode(column: "number", as: Int.self) == 42)
            #expect(try row.decode(column: "number", as: Int64?.self) == 42)
            #expect(try row.decode(column: "number", as: Int?.self) == 42)
            #expect(try row.decode(column: "word", as: String.self) == "text")
            #expect(try row.decode(column: "word", as: String?.self) == "text")
            #expect(try row.decode(column: "absent", as: Int64?.self) == nil)
            #expect(try row.decode(column: "absent", as: Int?.self) == nil)
            #expect(try row.decode(column: "absent", as: String?.self) == nil)
            #expect(try row.decode(column: "flag", as: Bool.self) == true)
            #expect(try row.decode(column: "ratio", as: Double.self) == 2.5)
            #expect(throws: (any Error).self) { try row.decode(column: "absent", as: Int64.self) }
            #expect(throws: (any Error).self) { try row.decode(column: "word", as: Int64.self) }
        }
    }

    @Test func aTransactionAloneCommitsAtOnce() async throws {
        try await withDatabase { database, _ in
            let before = database.commits
            for id in 1...3 {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO things (id, label) VALUES (\(bind: id), 'alone')").run()
                }
                #expect(database.commits - before == id)
                #expect(try await ids(in: database).contains(id))
            }
        }
    }

    /// A commit that fails (here a deferred foreign key, checked only at COMMIT) fails every
    /// transaction in its group and keeps none of their writes; the next one works.
    @Test func aFailedCommitFailsTheWholeGroupAndKeepsNothing() async throws {
        try await withDatabase { database, _ in
            try await database.transaction { sql in
                try await sql.raw(
                    "CREATE TABLE links (id BIGINT PRIMARY KEY, thing BIGINT REFERENCES things (id) DEFERRABLE INITIALLY DEFERRED)"
                ).run()
            }
            let (gate, opener) = AsyncStream<Void>.makeStream()
            let (entered, enteredSignal) = AsyncStream<Void>.makeStream()
            let first = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO things (id, label) VALUES (1, 'first')").run()
                    enteredSignal.yield()
                    for await _ in gate { break }
                }
            }
            for await _ in entered { break }
            let dangling = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO links (id, thing) VALUES (1, 999)").run()
                }
            }
            let third = Task {
                try await database.transaction { sql in
                    try await sql.raw("INSERT INTO things (id, label) VALUES (3, 'third')").run()
                }
            }
            try await waitForQueue(of: 2, on: database)
            opener.yield()

            for task in [first, dangling, third] {
                await #expect(throws: SQLiteFailure.self) { try await task.value }
            }
            #expect(try await ids(in: database).isEmpty)
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO things (id, label) VALUES (4, 'after')").run()
            }
            #expect(try await ids(in: database) == [4])
        }
    }

    /// Compiled statements are kept per connection, but no more than the limit: more
    /// distinct statements than that still run, and so do the first ones again.
    @Test func moreDistinctStatementsThanAreKeptStillRun() async throws {
        try await withDatabase { database, _ in
            let count = SQLiteHandle.statementLimit + 40
            try await database.transaction { sql in
                for id in 0..<count {
                    // A different text each time: the id is written into it, not bound.
                    try await sql.raw("INSERT INTO things (id, label) VALUES (\(unsafeRaw: String(id)), 'x')").run()
                }
            }
            let again = try await database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM things WHERE id < \(unsafeRaw: "10")").first(decodingColumn: "n", as: Int.self)
            }
            #expect(again == 10)
            #expect(try await ids(in: database).count == count)
        }
    }

    /// A kept statement runs with new values without being compiled again, even where a
    /// plan could look at them (a partial index's column, a LIMIT): SQLite would otherwise
    /// recompile it for each new value.
    @Test func aKeptStatementIsNotCompiledAgainForNewValues() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("shop-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let handle = try SQLiteHandle.open(path: directory.appendingPathComponent("plans.sqlite").path)
        defer { handle.close() }
        try handle.run("CREATE TABLE things (id INTEGER PRIMARY KEY, flag INTEGER NOT NULL, label TEXT NOT NULL)", [], { _ in })
        try handle.run("CREATE INDEX things_flagged_idx ON things (label) WHERE flag = 1", [], { _ in })
        for id in 0..<40 {
            try handle.run(
                "INSERT INTO things (id, flag, label) VALUES (?1, ?2, ?3)",
                [.integer(id), .integer(id % 2), .text("l\(id % 4)")],
                { _ in }
            )
        }
        let before = handle.recompiled
        var rows = 0
        for round in 0..<20 {
            try handle.run(
                "SELECT id FROM things WHERE flag = ?1 AND label = ?2 ORDER BY id LIMIT ?3",
                [.integer(round % 2), .text("l\(round % 4)"), .integer(round % 3 + 1)]
            ) { _ in rows += 1 }
        }
        #expect(handle.recompiled == before)
        // Each round's label has ten rows of its flag; the LIMIT keeps one to three.
        #expect(rows == (0..<20).reduce(0) { $0 + $1 % 3 + 1 })
    }
}
