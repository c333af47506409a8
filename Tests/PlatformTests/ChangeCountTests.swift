import Foundation
import Platform
import Redis
import TestSupport
import Testing

/// The database's own count of changes, and a value in Redis catching up with it.
@Suite struct ChangeCountTests {
    static let count = ChangeCount(table: "thing_changes")
    static let migrations = [
        Migration(
            1,
            "things",
            statements: ["CREATE TABLE things (id INTEGER PRIMARY KEY, label TEXT NOT NULL)", "CREATE TABLE other (id INTEGER PRIMARY KEY)"]
        ),
        count.migration(2, "count the things' changes", tables: ["things"]),
    ]

    /// Every committed change of a counted table moves the count, whoever makes it; a
    /// rolled-back one and one to a table not counted do not. On PostgreSQL a transaction
    /// counts once however many rows it changes; on SQLite each row does.
    @Test(arguments: TestDatabases.kinds())
    func committedChangesMoveTheCountAndNothingElseDoes(_ kind: DatabaseKind) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            #expect(try await Self.count.current(in: database) == 0)
            try await database.transaction { sql in try await sql.raw("INSERT INTO things (id, label) VALUES (1, 'a')").run() }
            #expect(try await Self.count.current(in: database) == 1)
            try await database.transaction { sql in
                try await sql.raw("INSERT INTO things (id, label) VALUES (2, 'b'), (3, 'c')").run()
                try await sql.raw("UPDATE things SET label = 'd' WHERE id = 1").run()
            }
            let perTransaction = try await Self.count.current(in: database)
            #expect(perTransaction == (kind == .postgres ? 2 : 4))
            struct Abandoned: Error {}
            await #expect(throws: Abandoned.self) {
                try await database.transaction { sql in
                    try await sql.raw("DELETE FROM things").run()
                    throw Abandoned()
                }
            }
            try await database.transaction { sql in try await sql.raw("INSERT INTO other (id) VALUES (1)").run() }
            try await database.transaction { sql in try await sql.raw("UPDATE things SET label = 'e' WHERE id = 99").run() }
            #expect(try await Self.count.current(in: database) == perTransaction, "nothing counted changed")
            try await database.transaction { sql in try await sql.raw("DELETE FROM things WHERE id = 3").run() }
            #expect(try await Self.count.current(in: database) == perTransaction + 1)
        }
    }

    /// Writers of the counted table in parallel, each also taking a lock the others want:
    /// none waits for the count while holding that lock (PostgreSQL moves it at commit), so
    /// none deadlocks, and every transaction is counted.
    @Test(.enabled(if: TestDatabases.postgresAvailable))
    func parallelWritersAreAllCountedAndNeverDeadlock() async throws {
        try await TestDatabases.with(.postgres) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: TestDatabases.logger).migrate(database)
            try await database.transaction { sql in try await sql.raw("INSERT INTO other (id) VALUES (1)").run() }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        try await database.transaction { sql in
                            // Half take the lock the others queue for before their counted
                            // change, half after: a count moved at once would be taken in
                            // both orders.
                            if writer.isMultiple(of: 2) { try await sql.raw("UPDATE other SET id = 1 WHERE id = 1").run() }
                            try await sql.raw("INSERT INTO things (id, label) VALUES (\(bind: writer + 10), 'w')").run()
                            if !writer.isMultiple(of: 2) { try await sql.raw("UPDATE other SET id = 1 WHERE id = 1").run() }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await Self.count.current(in: database) == 16)
        }
    }

    /// A value caught up with a count moves once per count not seen yet, never for one
    /// seen; and when Redis has lost the count seen, it starts past the time in
    /// milliseconds, above every value kept under before.
    @Test(.enabled(if: RedisServer.available))
    func aValueCatchesUpOncePerNewCountAndStartsPastTheTimeAfterALoss() async throws {
        let server = try RedisServer()
        let redis = SharedWriteCountTests.client(port: server.port)
        defer { redis.shutdown() }
        func value() async throws -> Int? { try await redis.send([RESPArgument("GET"), RESPArgument("test:value")]).string.flatMap { Int($0) } }
        _ = try await redis.send([RESPArgument("SET"), RESPArgument("test:value"), RESPArgument("7")])
        let before = Int(Date().timeIntervalSince1970 * 1000)
        #expect(try await ChangeCount.catchUp(3, value: "test:value", seen: "test:seen", in: redis))
        let first = try #require(try await value())
        #expect(first > before)
        for seen in [3, 2, 0] as [Int64] {
            #expect(try await !ChangeCount.catchUp(seen, value: "test:value", seen: "test:seen", in: redis))
        }
        #expect(try await value() == first)
        #expect(try await ChangeCount.catchUp(4, value: "test:value", seen: "test:seen", in: redis))
        #expect(try await value() == first + 1)

        try await Task.sleep(for: .milliseconds(5))
        _ = try await redis.send([RESPArgument("FLUSHALL")])
        #expect(try await ChangeCount.catchUp(4, value: "test:value", seen: "test:seen", in: redis))
        #expect(try await value().map { $0 > first + 1 } == true)
    }

    /// A writer's own count adds one while Redis keeps what was caught up with; once Redis
    /// has lost that, it starts past the time in milliseconds, not from nothing.
    @Test(.enabled(if: RedisServer.available))
    func aWritersOwnCountStartsPastTheTimeAfterALoss() async throws {
        let server = try RedisServer()
        let redis = SharedWriteCountTests.client(port: server.port)
        defer { redis.shutdown() }
        let count = RedisSharedWriteCount(redis: redis, key: "test:writes")
        try await count.catchUp(toChanges: 1)
        let caughtUp = try await count.current()
        try await count.increment()
        #expect(try await count.current() == caughtUp + 1)

        _ = try await redis.send([RESPArgument("FLUSHALL")])
        let before = UInt64(Date().timeIntervalSince1970 * 1000)
        try await count.increment()
        let restarted = try await count.current()
        #expect(restarted > before)
        try await count.increment()
        #expect(try await count.current() > restarted)
    }
}
