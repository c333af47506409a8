public import Foundation
import SQLKit

/// An event a consumer gave up on, as the in-process bus records it.
public struct DeadLetter: Sendable, Hashable {
    public let id: Int64
    public let consumer: String
    public let event: EventEnvelope
    public let reason: String
    public let attempts: Int
    public let failedAt: Date
}

/// The dead letters of the in-process bus, kept in each consumer's database.
public enum DeadLetters {
    /// Those not yet replayed, oldest first.
    public static func list(in database: any Database, limit: Int = 100) async throws -> [DeadLetter] {
        try await database.read { sql in
            try await sql.raw(
                """
                SELECT id, consumer, envelope, reason, attempts, failed_at FROM event_dead_letters
                WHERE replayed_at IS NULL ORDER BY id LIMIT \(bind: limit)
                """
            ).all().map { row in
                DeadLetter(
                    id: try row.decode(column: "id", as: Int64.self),
                    consumer: try row.decode(column: "consumer", as: String.self),
                    event: try EventEnvelope(decoding: Data(try row.decode(column: "envelope", as: String.self).utf8)),
                    reason: try row.decode(column: "reason", as: String.self),
                    attempts: try row.decode(column: "attempts", as: Int.self),
                    failedAt: Date(microsecondsSince1970: try row.decode(column: "failed_at", as: Int64.self))
                )
            }
        }
    }

    /// Hands dead letter `id` to its consumer again (once: a handled event is not
    /// handled twice) and marks it replayed. `false` when there is no such letter or
    /// its consumer is not among `consumers`; the handler's error when it fails again.
    public static func replay(id: Int64, in database: any Database, consumers: [EventConsumer], now: Date) async throws -> Bool {
        guard let letter = try await list(in: database, limit: Int.max).first(where: { $0.id == id }),
            let consumer = consumers.first(where: { $0.name == letter.consumer })
        else { return false }
        try await Inbox.handle(letter.event, by: consumer, now: now)
        try await database.transaction { sql in
            try await sql.raw("UPDATE event_dead_letters SET replayed_at = \(bind: now.microsecondsSince1970) WHERE id = \(bind: id)").run()
        }
        return true
    }
}
