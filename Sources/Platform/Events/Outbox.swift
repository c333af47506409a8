import Foundation
public import SQLKit

/// The transactional outbox: a service publishes by writing its event into its own
/// `outbox` table in the same transaction as the change the event reports, so an event
/// exists exactly when its change does. ``OutboxRelay`` delivers the rows to the bus.
public enum Outbox {
    /// The tables every publishing or consuming service needs: `outbox`, the consumer
    /// inbox `processed_events` and `event_dead_letters`. Add it to the service's
    /// migrations as the next version.
    public static func migration(_ version: Int) -> Migration {
        Migration(version, "event outbox, inbox and dead letters") { sql in
            try await sql.raw(
                """
                CREATE TABLE outbox (
                    id \(unsafeRaw: sql.identityColumn),
                    event_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    envelope TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    sent_at BIGINT
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX outbox_event_id_key ON outbox (event_id)").run()
            // The relay's queue: unsent rows in order; sent ones drop out of the index.
            try await sql.raw("CREATE INDEX outbox_unsent_idx ON outbox (id) WHERE sent_at IS NULL").run()
            try await sql.raw("CREATE INDEX outbox_sent_at_idx ON outbox (sent_at) WHERE sent_at IS NOT NULL").run()
            try await sql.raw(
                """
                CREATE TABLE processed_events (
                    consumer TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    processed_at BIGINT NOT NULL,
                    PRIMARY KEY (consumer, event_id)
                )
                """
            ).run()
            try await sql.raw(
                """
                CREATE TABLE event_dead_letters (
                    id \(unsafeRaw: sql.identityColumn),
                    consumer TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    envelope TEXT NOT NULL,
                    reason TEXT NOT NULL,
                    attempts INTEGER NOT NULL,
                    failed_at BIGINT NOT NULL,
                    replayed_at BIGINT
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX event_dead_letters_failed_at_idx ON event_dead_letters (failed_at)").run()
        }
    }

    /// Writes `event` into the outbox inside the caller's transaction `sql`.
    public static func append(_ event: EventEnvelope, in sql: any SQLDatabase) async throws {
        let envelope = String(decoding: try event.encoded(), as: UTF8.self)
        try await sql.raw(
            """
            INSERT INTO outbox (event_id, type, envelope, created_at)
            VALUES (\(bind: event.id), \(bind: event.type), \(bind: envelope), \(bind: event.time.microsecondsSince1970))
            """
        ).run()
    }
}
