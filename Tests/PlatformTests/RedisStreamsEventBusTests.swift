import Foundation
import Logging
import Platform
import Redis
import SQLKit
import ServiceLifecycle
import Synchronization
import TestSupport
import Testing

/// The Redis Streams bus against a real redis-server, with consumers' inboxes in SQLite.
@Suite(.enabled(if: RedisServer.available), .serialized) struct RedisStreamsEventBusTests {
    static let logger = Logger(label: "streams-test")

    struct Thing: DomainEvent, Hashable {
        static let type = "thing.happened"
        var number: Int
    }

    struct Refused: Error {}

    final class Switch: Sendable {
        let on = Atomic<Bool>(true)
    }

    /// A bus on a private redis-server and a consumer database with an `effects` table.
    private func withBus(maxLength: Int = 100_000, _ body: (RedisStreamsEventBus, any Database, RedisClient) async throws -> Void) async throws {
        let server = try RedisServer()
        let url = RedisURL(host: "127.0.0.1", port: server.port)
        let redis = RedisClient(.init(url: url, connectTimeout: .seconds(5), commandTimeout: .seconds(5)), logger: Self.logger)
        defer { redis.shutdown() }
        try await TestDatabases.withSQLite { database in
            try await Migrator(EventsTests.migrations, logger: Self.logger).migrate(database)
            let bus = RedisStreamsEventBus(redis: redis, url: url, prefix: "test:events", maxLength: maxLength, logger: Self.logger)
            try await body(bus, database, redis)
        }
    }

    private func consumer(
        _ database: any Database,
        failOn: Int? = nil,
        failing: Switch = Switch(),
        hangOn: Int? = nil,
        maxAttempts: Int = 3
    ) -> EventConsumer {
        EventConsumer(name: "things.effects", types: [Thing.type], database: database, maxAttempts: maxAttempts) { event, sql in
            let thing = try event.decode(Thing.self)
            if thing.number == hangOn { try await Task.sleep(for: .seconds(600)) }
            if thing.number == failOn, failing.on.load(ordering: .relaxed) { throw Refused() }
            try await sql.raw("INSERT INTO effects (event_id, number) VALUES (\(bind: event.id), \(bind: thing.number))").run()
        }
    }

    private func effects(_ database: any Database) async throws -> [Int] {
        try await EventsTests.effects(database)
    }

    /// Waits (a bounded number of rounds, generous for a loaded machine) until `condition` holds.
    /// An error counts as "not yet" (the consumer may not have made its group yet).
    private func eventually(_ condition: () async throws -> Bool) async throws {
        for _ in 0..<1200 {
            if (try? await condition()) == true { return }
            try await Task.sleep(for: .milliseconds(25))
        }
    }

    /// `last-delivered-id` of the test's group, from `XINFO GROUPS`.
    private func lastDelivered(_ redis: RedisClient, _ stream: String) async throws -> String? {
        let groups = try await redis.send("XINFO", "GROUPS", RESPArgument(stream)).array ?? []
        for group in groups {
            let fields = group.array ?? []
            let pairs = stride(from: 0, to: fields.count - 1, by: 2).map { (fields[$0].string, fields[$0 + 1].string) }
            if pairs.contains(where: { $0.0 == "name" && $0.1 == "things.effects" }) {
                return pairs.first { $0.0 == "last-delivered-id" }?.1 ?? nil
            }
        }
        return nil
    }

    private func run(_ service: any Service) -> Task<Void, any Error> {
        Task { try await service.run() }
    }

    private func events(_ numbers: [Int]) throws -> [EventEnvelope] {
        try numbers.map { try EventEnvelope(Thing(number: $0), source: "/things", time: Date(), requestID: nil) }
    }

    @Test func eachEventIsAppliedOnceAndAcknowledgedEvenWhenPublishedTwice() async throws {
        try await withBus { bus, database, redis in
            let published = try events([1, 2, 3])
            let reader = run(bus.consumerService(consumer(database), claimAfter: .milliseconds(300), block: .milliseconds(100)))
            defer { reader.cancel() }
            try await bus.publish(published)
            try await bus.publish([published[1]])
            let stream = bus.stream(for: Thing.type)
            let last = try #require(try await redis.streamRange(stream, count: 10).last?.id)
            // Done when the group has been given the last entry and owes no acknowledgement.
            try await eventually {
                let delivered = try await lastDelivered(redis, stream)
                let pending = try await redis.streamPendingCount(stream, group: "things.effects")
                return delivered == last && pending == 0
            }
            #expect(try await effects(database) == [1, 2, 3])
            #expect(try await redis.streamPendingCount(bus.stream(for: Thing.type), group: "things.effects") == 0)
            #expect(try await redis.streamLength(bus.stream(for: Thing.type)) == 4)
        }
    }

    @Test func aConsumerThatKeepsFailingDeadLettersTheEventTheRestFlowAndAReplayDeliversIt() async throws {
        try await withBus { bus, database, redis in
            let failing = Switch()
            let reader = run(
                bus.consumerService(
                    consumer(database, failOn: 2, failing: failing, maxAttempts: 2),
                    claimAfter: .milliseconds(200),
                    block: .milliseconds(100)
                )
            )
            defer { reader.cancel() }
            try await bus.publish(try events([1, 2, 3]))
            try await eventually { try await redis.streamLength(bus.deadLetterStream) == 1 }
            #expect(try await effects(database) == [1, 3])
            let letter = try #require(try await redis.streamRange(bus.deadLetterStream, count: 10).first)
            #expect(letter.fields["consumer"] == "things.effects")
            #expect(letter.fields["attempts"] == "2")
            #expect(letter.fields["reason"]?.contains("Refused") == true)

            failing.on.store(false, ordering: .relaxed)
            #expect(try await bus.replay(deadLetterID: letter.id))
            try await eventually { try await effects(database).count == 3 }
            #expect(try await effects(database) == [1, 2, 3])
            #expect(try await redis.streamLength(bus.deadLetterStream) == 0)
        }
    }

    @Test func theMessageOfAConsumerKilledMidHandlingIsReclaimedByAnother() async throws {
        try await withBus { bus, database, redis in
            let first = run(bus.consumerService(consumer(database, hangOn: 1), claimAfter: .milliseconds(400), block: .milliseconds(100)))
            try await bus.publish(try events([1]))
            try await eventually { try await redis.streamPendingCount(bus.stream(for: Thing.type), group: "things.effects") == 1 }
            // The first consumer dies while its handler is still running.
            first.cancel()
            _ = await first.result
            #expect(try await effects(database) == [])
            let second = run(bus.consumerService(consumer(database), claimAfter: .milliseconds(400), block: .milliseconds(100)))
            defer { second.cancel() }
            try await eventually { try await effects(database) == [1] }
            #expect(try await effects(database) == [1])
            try await eventually { try await redis.streamPendingCount(bus.stream(for: Thing.type), group: "things.effects") == 0 }
            #expect(try await redis.streamPendingCount(bus.stream(for: Thing.type), group: "things.effects") == 0)
        }
    }

    @Test func streamsAreTrimmedToAboutTheirMaximumLength() async throws {
        try await withBus(maxLength: 100) { bus, _, redis in
            for start in stride(from: 0, to: 2000, by: 100) {
                try await bus.publish(try events(Array(start..<start + 100)))
            }
            let length = try await redis.streamLength(bus.stream(for: Thing.type))
            #expect(length >= 100 && length < 300, "\(length)")
        }
    }
}
