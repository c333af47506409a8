import Foundation
import Logging
import SQLKit
import Synchronization
import TestSupport
import Testing

@testable import Platform

/// The event backbone on real SQLite and PostgreSQL: the outbox, the relay, the
/// in-process bus, idempotent consumers and dead letters.
@Suite struct EventsTests {
    static let kinds = TestDatabases.kinds()
    static let logger = Logger(label: "events-test")

    struct Thing: DomainEvent, Hashable {
        static let type = "thing.happened"
        var number: Int
    }

    /// A bus that records what it was given, and can fail on purpose.
    final class RecordingBus: EventBus {
        let published = Mutex<[EventEnvelope]>([])
        let failAfterRecording = Atomic<Int>(0)
        let inner: (any EventBus)?

        init(forwardingTo inner: (any EventBus)? = nil) {
            self.inner = inner
        }

        func publish(_ events: [EventEnvelope]) async throws {
            try await inner?.publish(events)
            published.withLock { $0 += events }
            // A crash between the bus taking the events and the relay marking them sent.
            if failAfterRecording.load(ordering: .relaxed) > 0 {
                failAfterRecording.subtract(1, ordering: .relaxed)
                throw CancellationError()
            }
        }

        var numbers: [Int] { published.withLock { $0 }.compactMap { try? $0.decode(Thing.self).number } }
    }

    /// The outbox and inbox tables, and `effects`: one row per event a test consumer applied.
    static let migrations = [
        Outbox.migration(1),
        Migration(2, "effects") { sql in
            try await sql.raw("CREATE TABLE effects (event_id TEXT NOT NULL, number INTEGER NOT NULL)").run()
        },
    ]

    /// The numbers of the events applied, in order.
    static func effects(_ database: any Database) async throws -> [Int] {
        try await database.read { sql in
            try await sql.raw("SELECT number FROM effects ORDER BY number").all().map { try $0.decode(column: "number", as: Int.self) }
        }
    }

    private func withOutbox(_ kind: DatabaseKind, _ body: @Sendable (any Database, EventOutbox) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(Self.migrations, logger: Self.logger).migrate(database)
            try await body(database, EventOutbox(database: database, source: "/things"))
        }
    }

    private func emit(_ numbers: ClosedRange<Int>, _ outbox: EventOutbox) async throws {
        for number in numbers {
            try await outbox.database.transaction { sql in
                try await outbox.append(Thing(number: number), at: Date(), in: sql)
            }
        }
        outbox.committed()
    }

    /// A consumer that writes one effect row per event it applies.
    private func effectConsumer(
        _ database: any Database,
        name: String = "things.effects",
        failures: Counter? = nil,
        maxAttempts: Int = 3
    ) -> EventConsumer {
        EventConsumer(name: name, types: [Thing.type], database: database, maxAttempts: maxAttempts) { event, sql in
            let thing = try event.decode(Thing.self)
            if let failures, thing.number == 2 {
                failures.value.add(1, ordering: .relaxed)
                throw ThingRefused()
            }
            try await sql.raw("INSERT INTO effects (event_id, number) VALUES (\(bind: event.id), \(bind: thing.number))").run()
        }
    }

    struct ThingRefused: Error {}

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    private func effects(_ database: any Database) async throws -> [Int] {
        try await Self.effects(database)
    }

    @Test func anEnvelopeIsCloudEventsJSONAndReadsBack() throws {
        let time = Date(timeIntervalSince1970: 1_795_601_700.125)
        let event = try EventEnvelope(Thing(number: 7), source: "/things", time: time, requestID: "req-1")
        let json = try #require(try JSONSerialization.jsonObject(with: event.encoded()) as? [String: Any])
        #expect(json["specversion"] as? String == "1.0")
        #expect(json["type"] as? String == "thing.happened")
        #expect(json["source"] as? String == "/things")
        #expect(json["datacontenttype"] as? String == "application/json")
        #expect(json["time"] as? String == "2026-11-25T10:15:00.125Z")
        #expect(json["requestid"] as? String == "req-1")
        #expect((json["data"] as? [String: Any])?["number"] as? Int == 7)
        #expect(json["traceparent"] == nil, "no span, no member")
        let back = try EventEnvelope(decoding: event.encoded())
        #expect(back == event)
        #expect(try back.decode(Thing.self) == Thing(number: 7))
        #expect(throws: EventDecodingError.self) { try EventEnvelope(decoding: Data(#"{"specversion":"0.3"}"#.utf8)) }
    }

    /// The envelope is written and read by hand: what `JSONSerialization` reads from it
    /// must be what was put in, whatever the strings hold, and it must read back equal.
    /// Event ids are version 7 UUIDs of the RFC 9562 variant: the event's time in
    /// milliseconds first, so later events sort after earlier ones, and they do not repeat.
    @Test func eventIdsAreTimeOrderedUUIDs() throws {
        var seen = Set<String>()
        let startMilliseconds: UInt64 = 1_780_000_000_123
        var previous = ""
        for step in 0..<2_000 {
            let milliseconds = startMilliseconds + UInt64(step / 2)
            // Half a millisecond in, so that no rounding of the Double moves it to the one before.
            let time = Date(timeIntervalSince1970: (Double(milliseconds) + 0.5) / 1000)
            let id = try EventEnvelope(Thing(number: 1), source: "/things", time: time, requestID: nil).id
            let uuid = try #require(UUID(uuidString: id))
            #expect(uuid.uuidString.lowercased() == id)
            let bytes = withUnsafeBytes(of: uuid.uuid) { Array($0) }
            #expect(bytes[6] >> 4 == 7)
            #expect(bytes[8] >> 6 == 0b10)
            #expect(bytes[0..<6].reduce(UInt64(0)) { $0 << 8 | UInt64($1) } == milliseconds)
            // Two in the same millisecond may come in either order; a later millisecond sorts later.
            if step % 2 == 0 { #expect(id > previous) }
            previous = id
            seen.insert(id)
        }
        #expect(seen.count == 2_000)
    }

    @Test func strangeStringsSurviveTheEnvelope() throws {
        let strange = "quote\" back\\ slash/ nl\n tab\t nul\u{0} bell\u{7} é 😀 \u{2028}"
        let event = EventEnvelope(
            id: strange,
            type: "thing.happened",
            source: "/things/\"x\"",
            time: Date(timeIntervalSince1970: 1_795_601_700.5),
            data: Data(#"{"text":"caf\u00e9 \ud83d\ude00","list":[1,-2.5e3,true,null,{"a":[]}]}"#.utf8),
            requestID: strange,
            actorID: -42,
            traceparent: strange
        )
        let encoded = try event.encoded()
        let json = try #require(try JSONSerialization.jsonObject(with: encoded) as? [String: Any])
        #expect(json["id"] as? String == strange)
        #expect(json["requestid"] as? String == strange)
        #expect(json["traceparent"] as? String == strange)
        #expect(json["source"] as? String == "/things/\"x\"")
        #expect((json["actorid"] as? NSNumber)?.int64Value == -42)
        #expect(((json["data"] as? [String: Any])?["text"] as? String) == "café 😀")
        #expect(try EventEnvelope(decoding: encoded) == event)
        // The keys are in order, as `.sortedKeys` wrote them before.
        let tape = try JSONTape(parsing: Array(encoded))
        var keys: [String] = []
        tape.forEachMember(of: 0) { keys.append(tape.string(at: $0)) }
        #expect(keys == keys.sorted())
    }

    @Test func whitespaceAndEscapesAreRead() throws {
        let json = """
             { "specversion" : "1.0", "id":"e\\u0031", "type":"thing.happened", "source":"\\/things",
              "time":"2026-11-25T10:15:00.125Z", "data": { "number" : 7 } , "actorid": 12 }\t
            """
        let event = try EventEnvelope(decoding: Data(json.utf8))
        #expect(event.id == "e1")
        #expect(event.source == "/things")
        #expect(event.actorID == 12)
        #expect(event.requestID == nil)
        #expect(try event.decode(Thing.self) == Thing(number: 7))
    }

    @Test(arguments: [
        "", "null", "[]", #"{"specversion":"1.0"}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":[1]}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"yesterday","data":{}}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{}} x"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{"a":01}}"#,
        #"{"specversion":"1.0","id":"a\x","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{}}"#,
        #"{"specversion":"1.0","id":"\ud800","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{}}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{"a":tru}}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{"a":1,}}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{"#,
        #"{"specversion":"1.0","id":7,"type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{}}"#,
        #"{"specversion":"1.0","id":"a","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{"a":"#
            + String(repeating: "[", count: 100_000) + "}",
        "{\"specversion\":\"1.0\",\"id\":\"a\tb\",\"type\":\"t\",\"source\":\"s\",\"time\":\"2026-11-25T10:15:00Z\",\"data\":{}}",
    ])
    func junkIsNotAnEvent(_ json: String) {
        #expect(throws: EventDecodingError.notACloudEvent) { try EventEnvelope(decoding: Data(json.utf8)) }
    }

    @Test func invalidUTF8IsNotAnEvent() {
        var bytes = Array(#"{"specversion":"1.0","id":""#.utf8)
        bytes += [0xC3, 0x28]
        bytes += Array(#"","type":"t","source":"s","time":"2026-11-25T10:15:00Z","data":{}}"#.utf8)
        #expect(throws: EventDecodingError.notACloudEvent) { try EventEnvelope(decoding: Data(bytes)) }
    }

    @Test(arguments: kinds)
    func aRolledBackChangePublishesNothingAndCommittedOnesGoOutInOrderOnce(_ kind: DatabaseKind) async throws {
        try await withOutbox(kind) { database, outbox in
            await #expect(throws: ThingRefused.self) {
                try await database.transaction { sql in
                    try await outbox.append(Thing(number: 0), at: Date(), in: sql)
                    throw ThingRefused()
                }
            }
            try await emit(1...5, outbox)
            let bus = RecordingBus()
            let relay = OutboxRelay(outbox: outbox, bus: bus, logger: Self.logger, batchSize: 2)
            while try await relay.relayPending(now: Date()) > 0 {}
            #expect(bus.numbers == [1, 2, 3, 4, 5])
            #expect(try await relay.relayPending(now: Date()) == 0)
            #expect(try await relay.backlog(now: Date()).count == 0)
            let rows = { try await database.read { try await $0.raw("SELECT COUNT(*) AS n FROM outbox").first(decodingColumn: "n", as: Int.self) } }
            try await relay.purge(now: Date())
            #expect(try await rows() == 5, "sent rows are kept for the retention period")
            try await relay.purge(now: Date().addingTimeInterval(8 * 24 * 3600))
            #expect(try await rows() == 0)
        }
    }

    /// The process dies after the commit and before any relay ran: the rows wait in the
    /// outbox, and the relay of the next start delivers them.
    @Test(arguments: kinds)
    func eventsCommittedBeforeACrashAreDeliveredAfterTheRestart(_ kind: DatabaseKind) async throws {
        try await withOutbox(kind) { database, outbox in
            try await emit(1...3, outbox)
            let backlog = try await OutboxRelay(outbox: outbox, bus: RecordingBus(), logger: Self.logger).backlog(now: Date())
            #expect(backlog.count == 3)
            #expect(backlog.oldestAge != nil)
            let restarted = EventOutbox(database: database, source: "/things")
            let bus = InProcessEventBus(logger: Self.logger)
            bus.subscribe(effectConsumer(database))
            try await OutboxRelay(outbox: restarted, bus: bus, logger: Self.logger).relayPending(now: Date())
            #expect(try await effects(database) == [1, 2, 3])
        }
    }

    /// The bus took the events but the relay died before marking them sent: they are
    /// published again, and the consumer applies each once.
    @Test(arguments: kinds)
    func aRepublishedEventHasNoSecondEffect(_ kind: DatabaseKind) async throws {
        try await withOutbox(kind) { database, outbox in
            try await emit(1...3, outbox)
            let inProcess = InProcessEventBus(logger: Self.logger)
            inProcess.subscribe(effectConsumer(database))
            let bus = RecordingBus(forwardingTo: inProcess)
            bus.failAfterRecording.store(1, ordering: .relaxed)
            let relay = OutboxRelay(outbox: outbox, bus: bus, logger: Self.logger)
            await #expect(throws: CancellationError.self) { try await relay.relayPending(now: Date()) }
            try await relay.relayPending(now: Date())
            #expect(bus.numbers == [1, 2, 3, 1, 2, 3], "delivered twice")
            #expect(try await effects(database) == [1, 2, 3], "applied once")
        }
    }

    @Test(arguments: kinds)
    func aConsumerThatKeepsFailingDeadLettersTheEventAndTheRestFlow(_ kind: DatabaseKind) async throws {
        try await withOutbox(kind) { database, outbox in
            try await emit(1...3, outbox)
            let failures = Counter()
            let bus = InProcessEventBus(logger: Self.logger, firstRetryDelay: .milliseconds(1))
            bus.subscribe(effectConsumer(database, failures: failures, maxAttempts: 3))
            try await OutboxRelay(outbox: outbox, bus: bus, logger: Self.logger).relayPending(now: Date())
            #expect(failures.value.load(ordering: .relaxed) == 3)
            #expect(try await effects(database) == [1, 3])
            let letters = try await database.read { sql in
                try await sql.raw("SELECT consumer, type, reason, attempts FROM event_dead_letters").all()
            }
            #expect(letters.count == 1)
            #expect(try letters.first?.decode(column: "consumer", as: String.self) == "things.effects")
            #expect(try letters.first?.decode(column: "attempts", as: Int.self) == 3)
            #expect(try letters.first?.decode(column: "reason", as: String.self).contains("ThingRefused") == true)

            // Once the cause is fixed, a replay applies it, once.
            let listed = try await DeadLetters.list(in: database)
            #expect(listed.map(\.event.type) == [Thing.type])
            let fixed = effectConsumer(database)
            #expect(try await DeadLetters.replay(id: listed[0].id, in: database, consumers: [fixed], now: Date()))
            #expect(try await effects(database) == [1, 2, 3])
            #expect(try await DeadLetters.list(in: database).isEmpty)
            #expect(try await !DeadLetters.replay(id: listed[0].id, in: database, consumers: [fixed], now: Date()))
        }
    }

    /// In process, a consumer takes the events waiting for it in one transaction, each in
    /// a savepoint: one that fails is undone alone, tried again by itself, and the rest follow
    /// it in order.
    @Test(arguments: kinds)
    func eventsAreAppliedInOneTransactionAndOneThatFailsWaitsAlone(_ kind: DatabaseKind) async throws {
        try await withOutbox(kind) { database, outbox in
            try await emit(1...6, outbox)
            let failures = Counter()
            let counted = WriteCountingDatabase(database)
            let bus = InProcessEventBus(logger: Self.logger, firstRetryDelay: .milliseconds(1))
            bus.subscribe(
                EventConsumer(name: "things.in-order", types: [Thing.type], database: counted, maxAttempts: 3) { event, sql in
                    let thing = try event.decode(Thing.self)
                    if thing.number == 3, failures.value.add(1, ordering: .relaxed).oldValue == 0 {
                        // A write before the failure, which the failure must take back.
                        try await sql.raw("INSERT INTO effects (event_id, number) VALUES ('undone', 0)").run()
                        throw ThingRefused()
                    }
                    // Each effect notes how many came before it.
                    let before = try await sql.raw("SELECT COUNT(*) AS n FROM effects").first(decodingColumn: "n", as: Int.self) ?? -1
                    try await sql.raw("INSERT INTO effects (event_id, number) VALUES (\(bind: String(before)), \(bind: thing.number))").run()
                }
            )
            try await OutboxRelay(outbox: outbox, bus: bus, logger: Self.logger).relayPending(now: Date())
            let rows = try await database.read { sql in
                try await sql.raw("SELECT event_id, number FROM effects ORDER BY number").all().map {
                    "\(try $0.decode(column: "event_id", as: String.self)):\(try $0.decode(column: "number", as: Int.self))"
                }
            }
            #expect(rows == ["0:1", "1:2", "2:3", "3:4", "4:5", "5:6"], "in order, each once, nothing of the failed try")
            #expect(failures.value.load(ordering: .relaxed) == 2, "3 was tried twice: refused, then applied")
            // 1 and 2 in one commit, 3 alone, then 4 to 6 in one.
            #expect(counted.generation == 3)
            let handled = try await database.read { sql in
                try await sql.raw("SELECT COUNT(*) AS n FROM processed_events WHERE consumer = 'things.in-order'").first(
                    decodingColumn: "n",
                    as: Int.self
                )
            }
            #expect(handled == 6)
        }
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable))
    func twoRelaysOnOnePostgreSQLDatabaseNeverPublishARowTwice() async throws {
        try await withOutbox(.postgres) { database, outbox in
            try await emit(1...300, outbox)
            let bus = RecordingBus()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        let relay = OutboxRelay(
                            outbox: EventOutbox(database: database, source: "/things"),
                            bus: bus,
                            logger: Self.logger,
                            batchSize: 7
                        )
                        var idle = 0
                        while idle < 20 {
                            idle = try await relay.relayPending(now: Date()) == 0 ? idle + 1 : 0
                            await Task.yield()
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(bus.numbers == Array(1...300), "every row once, in order")
        }
    }

    @Test(arguments: kinds)
    func theRunningRelayWakesWhenATransactionCommits(_ kind: DatabaseKind) async throws {
        try await withOutbox(kind) { database, outbox in
            let bus = RecordingBus()
            // Polling alone would take a minute: only the signal can deliver in time.
            let relay = OutboxRelay(outbox: outbox, bus: bus, logger: Self.logger, pollInterval: .seconds(60))
            let running = Task { try await relay.run() }
            defer { running.cancel() }
            try await Task.sleep(for: .milliseconds(100))
            try await emit(1...1, outbox)
            for _ in 0..<300 where bus.numbers.isEmpty {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(bus.numbers == [1])
        }
    }
}
