import Foundation
import Platform
import Redis
import TestSupport
import Testing

/// Two instances of a service on one PostgreSQL database, each counting its writes in one
/// real Redis: what one keeps is dropped by the other's very next write, even while reads
/// keep the count's rounds busy; and when the count cannot be read, nothing is kept.
@Suite struct SharedWriteCountTests {
    static func client(port: Int) -> RedisClient {
        RedisClient(
            .init(url: RedisURL(host: "127.0.0.1", port: port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
            logger: .init(label: "test")
        )
    }

    /// A client of a port nothing listens on (a server's, stopped): every call fails.
    static func unreachable() throws -> RedisClient {
        let stopped = try RedisServer()
        let port = stopped.port
        stopped.stop()
        return RedisClient(
            .init(url: RedisURL(host: "127.0.0.1", port: port), connectTimeout: .milliseconds(200), commandTimeout: .milliseconds(200)),
            logger: .init(label: "test")
        )
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func aWriteOnOneInstanceDropsWhatAnotherKeptAtItsNextRead() async throws {
        let server = try RedisServer()
        let (first, second) = (Self.client(port: server.port), Self.client(port: server.port))
        defer {
            first.shutdown()
            second.shutdown()
        }
        try await TestDatabases.with(.postgres) { (database: any Database) async throws in
            let writer = WriteCountingDatabase(database, shared: RedisSharedWriteCount(redis: first, key: "test:writes"))
            let reader = WriteCountingDatabase(database, shared: RedisSharedWriteCount(redis: second, key: "test:writes"))
            let kept = KeptAnswers(database: reader, maximumAge: .seconds(60))
            let total = KeptWhileUnwritten<Int>(database: reader, maximumAge: .seconds(60))
            let made = KeptAnswersTests.Made()
            func read() async throws -> String {
                try await KeptAnswersTests.text(try await kept.response(for: "/users") { made.answer("answer \(made.value)") })
            }
            #expect(try await read() == "answer 0")
            #expect(try await read() == "answer 0", "kept: nothing was written")
            #expect(made.value == 1)
            #expect(try await total.value { 1 } == 1)
            #expect(try await total.value { 2 } == 1, "kept")

            // The other instance writes: this one's next read makes its answer anew.
            try await writer.transaction { sql in try await sql.raw("SELECT 1").run() }
            #expect(try await read() == "answer 1")
            #expect(try await total.value { 3 } == 3)
            #expect(made.value == 2)

            // While other reads keep the count's rounds busy, each write is seen by the very
            // next read.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<8 {
                    group.addTask { for _ in 0..<50 { _ = await reader.currentGeneration() } }
                }
                for round in 1...20 {
                    let before = made.value
                    try await writer.transaction { sql in try await sql.raw("SELECT 1").run() }
                    _ = try await read()
                    #expect(made.value == before + 1, "round \(round): made anew after the write")
                    _ = try await read()
                    #expect(made.value == before + 1, "round \(round): then kept")
                }
                try await group.waitForAll()
            }
        }
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func whenTheCountCannotBeReadNothingIsKeptAndWritesStillEnd() async throws {
        let unreachable = try Self.unreachable()
        defer { unreachable.shutdown() }
        try await TestDatabases.with(.postgres) { (database: any Database) async throws in
            let counted = WriteCountingDatabase(database, shared: RedisSharedWriteCount(redis: unreachable, key: "test:writes"))
            #expect(await counted.currentGeneration() == nil)
            let kept = KeptAnswers(database: counted, maximumAge: .seconds(60))
            let made = KeptAnswersTests.Made()
            for _ in 0..<3 { _ = try await kept.response(for: "/users") { made.answer("answer") } }
            #expect(made.value == 3, "made each time, never kept")
            #expect(kept.count == 0)
            let total = KeptWhileUnwritten<Int>(database: counted, maximumAge: .seconds(60))
            #expect(try await total.value { 1 } == 1)
            #expect(try await total.value { 2 } == 2, "not kept")
            // The write's own work is done and answered; only the count did not move.
            let answer = try await counted.transaction { sql in
                try await sql.raw("SELECT 41 + 1 AS n").first(decodingColumn: "n", as: Int.self)
            }
            #expect(answer == 42)
        }
    }

    /// Within a request whose session check read the count along, the count is that value,
    /// with no round trip of its own (the store here cannot be reached at all).
    @Test(.enabled(if: RedisServer.available))
    func aCountReadAlongTheSessionCheckIsUsedAsItIs() async throws {
        let unreachable = try Self.unreachable()
        defer { unreachable.shutdown() }
        let count = RedisSharedWriteCount(redis: unreachable, key: "test:writes")
        #expect(try await ReadAlong.$current.withValue(ReadAlong(values: ["test:writes": "7"])) { try await count.current() } == 7)
        #expect(try await ReadAlong.$current.withValue(ReadAlong(values: ["test:writes": nil])) { try await count.current() } == 0)
        await #expect(throws: (any Error).self, "another key read along: the count asks for itself") { () async throws in
            try await ReadAlong.$current.withValue(ReadAlong(values: ["other": "7"])) { try await count.current() }
        }
    }
}
