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
            let fresh = try await sql.raw(
                """
                INSERT INTO processed_events (consumer, event_id, processed_at)
                VALUES (\(bind: consumer.name), \(bind: event.id), \(bind: now.microsecondsSince1970))
                ON CONFLICT (consumer, event_id) DO NOTHING
                RETURNING event_id
                """
            ).first()
            guard fresh != nil else { return false }
            try await consumer.handler(event, sql)
            return true
        }
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

    public func publish(_ events: [EventEnvelope]) async throws {
        let consumers = self.consumers.withLock { $0 }
        for event in events {
            for consumer in consumers where consumer.types.contains(event.type) {
                try await deliver(event, to: consumer)
            }
        }
    }

    private func deliver(_ event: EventEnvelope, to consumer: EventConsumer) async throws {
        var delay = firstRetryDelay
        for attempt in 1...consumer.maxAttempts {
            do {
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
