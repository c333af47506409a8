public import Foundation
public import Logging
public import SQLKit
import Synchronization

/// Carries published events to the services that subscribed to them.
///
/// Two implementations with one behaviour: ``InProcessEventBus`` for the embedded
/// default, and Redis Streams (in the `Redis`-backed gateway setup) for many processes.
public protocol EventBus: Sendable {
    /// Publishes `events` in order; returns once the bus holds them durably (or, in
    /// process, once every subscriber handled or dead-lettered them).
    func publish(_ events: [EventEnvelope]) async throws
}

/// A service's subscription: the event types it handles, and how, in its own database.
///
/// The handler runs in one transaction with the record that the event was handled, so
/// a redelivered event has no second effect (see ``Inbox``).
public struct EventConsumer: Sendable {
    /// The consumer's name, unique in the system, e.g. `users.audit`: its consumer group.
    public let name: String
    public let types: Set<String>
    /// The consumer's own database, where its effects and its inbox live.
    public let database: any Database
    /// Attempts before an event is dead-lettered for this consumer.
    public let maxAttempts: Int
    let handler: @Sendable (EventEnvelope, any SQLDatabase) async throws -> Void
    /// Whether an event concerns this consumer at all, asked (read only) before anything is
    /// written: one that does not is acknowledged without a transaction. Only for handlers
    /// whose effect is conditional anyway, so that applying a skipped event could not matter.
    let concerns: (@Sendable (EventEnvelope) async throws -> Bool)?

    public init(
        name: String,
        types: Set<String>,
        database: any Database,
        maxAttempts: Int = 5,
        concerns: (@Sendable (EventEnvelope) async throws -> Bool)? = nil,
        handler: @escaping @Sendable (EventEnvelope, any SQLDatabase) async throws -> Void
    ) {
        self.name = name
        self.types = types
        self.database = database
        self.maxAttempts = max(1, maxAttempts)
        self.concerns = concerns
        self.handler = handler
    }
}

/// Applying an event at most once per consumer, and remembering the ones that failed.
public enum Inbox {
    /// Handles `event` for `consumer`: `true` when the handler ran (and committed),
    /// `false` when the event had been handled before or does not concern the consumer.
    @discardableResult
    public static func handle(_ event: EventEnvelope, by consumer: EventConsumer, now: Date) async throws -> Bool {
        if let concerns = consumer.concerns, try await !concerns(event) { return false }
        return try await consumer.database.transaction { sql in
            guard try await record(event, by: consumer, now: now, in: sql) else { return false }
            try await apply(event, by: consumer, in: sql)
            return true
        }
    }

    /// Handles `events` in order in one transaction, each in a savepoint of its own, so
    /// that many events cost one commit. The first that fails is undone alone and ends the
    /// batch: what came before it is kept, what comes after waits behind it, as it would
    /// one event at a time. Answers, for each event handled, whether it ran (`false`: seen
    /// before, or of no concern), and the failure that stopped the batch early.
    /// - Throws: when the transaction as a whole fails, keeping none of them.
    public static func handle(
        _ events: ArraySlice<EventEnvelope>,
        by consumer: EventConsumer,
        now: Date
    ) async throws -> (applied: [Bool], failure: (any Error)?) {
        var concerned: [Bool] = []
        var failure: (any Error)?
        for event in events {
            do {
                concerned.append(try await consumer.concerns?(event) ?? true)
            } catch {
                failure = error
                break
            }
        }
        let asked = concerned
        guard asked.contains(true) else { return (asked, failure) }
        let (applied, stopped) = try await consumer.database.transaction { sql -> ([Bool], (any Error)?) in
            var applied: [Bool] = []
            for (event, concerns) in zip(events, asked) {
                guard concerns else {
                    applied.append(false)
                    continue
                }
                try await sql.raw("SAVEPOINT inbox_event").run()
                do {
                    let fresh = try await record(event, by: consumer, now: now, in: sql)
                    if fresh { try await apply(event, by: consumer, in: sql) }
                    try await sql.raw("RELEASE SAVEPOINT inbox_event").run()
                    applied.append(fresh)
                } catch {
                    try await sql.raw("ROLLBACK TO SAVEPOINT inbox_event").run()
                    try await sql.raw("RELEASE SAVEPOINT inbox_event").run()
                    return (applied, error)
                }
            }
            return (applied, nil)
        }
        return (applied, stopped ?? failure)
    }

    /// Runs the consumer's handler in a span that continues the trace of the request
    /// that wrote the event.
    private static func apply(_ event: EventEnvelope, by consumer: EventConsumer, in sql: any SQLDatabase) async throws {
        try await Traces.withSpan("\(event.type) process", continuing: event.traceparent, ofKind: .consumer) { span in
            span.attributes["messaging.operation.type"] = "process"
            span.attributes["messaging.destination.name"] = event.type
            span.attributes["messaging.consumer.group.name"] = consumer.name
            span.attributes["messaging.message.id"] = event.id
            span.attributes["shop.request_id"] = event.requestID
            try await consumer.handler(event, sql)
        }
    }

    /// Notes in `sql`'s transaction that `consumer` handled `event`: `false` when it had.
    private static func record(_ event: EventEnvelope, by consumer: EventConsumer, now: Date, in sql: any SQLDatabase) async throws -> Bool {
        try await sql.raw(
            """
            INSERT INTO processed_events (consumer, event_id, processed_at)
            VALUES (\(bind: consumer.name), \(bind: event.id), \(bind: now.microsecondsSince1970))
            ON CONFLICT (consumer, event_id) DO NOTHING
            RETURNING event_id
            """
        ).first() != nil
    }

    /// Records that `consumer` gave up on `event` after `attempts`, with why.
    public static func deadLetter(
        _ event: EventEnvelope,
        consumer: EventConsumer,
        reason: String,
        attempts: Int,
        now: Date
    ) async throws {
        let envelope = String(decoding: try event.encoded(), as: UTF8.self)
        try await consumer.database.transaction { sql in
            try await sql.raw(
                """
                INSERT INTO event_dead_letters (consumer, event_id, type, envelope, reason, attempts, failed_at)
                VALUES (\(bind: consumer.name), \(bind: event.id), \(bind: event.type), \(bind: envelope),
                    \(bind: String(reason.prefix(2000))), \(bind: attempts), \(bind: now.microsecondsSince1970))
                """
            ).run()
        }
    }
}

/// The embedded default's bus: publishing hands each event to every subscribed
/// consumer in this process, retrying with backoff, and dead-letters it for a consumer
/// that still fails after its attempts, so the others keep flowing.
///
/// Delivery is at least once: the relay marks outbox rows sent only after this returns,
/// and consumers apply an event once by its id.
public final class InProcessEventBus: EventBus {
    private let consumers = Mutex<[EventConsumer]>([])
    let logger: Logger
    /// The wait before the second attempt; it doubles for each one after.
    let firstRetryDelay: Duration
    let metrics: ShopMetrics?

    public init(logger: Logger, firstRetryDelay: Duration = .milliseconds(50), metrics: ShopMetrics? = nil) {
        self.logger = logger
        self.firstRetryDelay = firstRetryDelay
        self.metrics = metrics
    }

    /// Adds a consumer: it gets every event of its types published from now on.
    public func subscribe(_ consumer: EventConsumer) {
        consumers.withLock { $0.append(consumer) }
    }

    /// Each consumer, in turn, gets the events of its types in order, as many as apply
    /// cleanly in one transaction (see ``Inbox``);
    /// one that fails is retried alone with backoff, and the batch goes on after it.
    public func publish(_ events: [EventEnvelope]) async throws {
        let consumers = self.consumers.withLock { $0 }
        for consumer in consumers {
            var waiting = events.filter { consumer.types.contains($0.type) }[...]
            while let first = waiting.first {
                let batch: (applied: [Bool], failure: (any Error)?)
                do {
                    batch = try await Inbox.handle(waiting, by: consumer, now: Date())
                } catch {
                    // Nothing of the batch was kept: its first event goes alone, from the start.
                    try await deliver(first, to: consumer, failedOnce: nil)
                    waiting = waiting.dropFirst()
                    continue
                }
                for applied in batch.applied {
                    metrics?.recordDelivery(consumer: consumer.name, outcome: applied ? "handled" : "duplicate")
                }
                waiting = waiting.dropFirst(batch.applied.count)
                if let failure = batch.failure, let failed = waiting.first {
                    try await deliver(failed, to: consumer, failedOnce: failure)
                    waiting = waiting.dropFirst()
                }
            }
        }
    }

    /// Hands `event` to `consumer` until it applies or its attempts run out; `failedOnce`
    /// is the first attempt's failure when a batch already made it.
    private func deliver(_ event: EventEnvelope, to consumer: EventConsumer, failedOnce: (any Error)?) async throws {
        var delay = firstRetryDelay
        for attempt in 1...consumer.maxAttempts {
            do {
                if attempt == 1, let failedOnce { throw failedOnce }
                let applied = try await Inbox.handle(event, by: consumer, now: Date())
                metrics?.recordDelivery(consumer: consumer.name, outcome: applied ? "handled" : "duplicate")
                return
            } catch {
                guard attempt < consumer.maxAttempts else {
                    metrics?.recordDelivery(consumer: consumer.name, outcome: "dead_lettered")
                    logger.error(
                        "event dead-lettered",
                        metadata: ["consumer": "\(consumer.name)", "event_id": "\(event.id)", "type": "\(event.type)", "error": "\(error)"]
                    )
                    try await Inbox.deadLetter(event, consumer: consumer, reason: "\(error)", attempts: attempt, now: Date())
                    return
                }
                metrics?.recordDelivery(consumer: consumer.name, outcome: "retried")
                logger.warning(
                    "event handler failed; retrying",
                    metadata: ["consumer": "\(consumer.name)", "event_id": "\(event.id)", "attempt": "\(attempt)", "error": "\(error)"]
                )
                try await Task.sleep(for: delay)
                delay *= 2
            }
        }
    }
}
