import Foundation
import Platform
import SQLKit

/// The webhook endpoints admins register, in the Notifications database.
struct WebhookEndpointStore: Sendable {
    let database: any Database
    /// The enabled endpoints kept between writes, when only this process writes them.
    let kept: KeptEndpoints?

    init(database: any Database) {
        self.database = database
        self.kept = database.kind == .sqlite ? KeptEndpoints() : nil
    }

    enum Failure: Error, Equatable {
        case tooMany
        /// The insert returned no row, which a working database never does.
        case notReturned
    }

    func create(url: String, description: String, eventTypes: [String], secret: String, at now: Date) async throws -> WebhookEndpoint {
        let micros = now.microsecondsSince1970
        let id = RandomID.make("we")
        return try await changing {
            try await database.transaction { sql in
                let count = try await sql.raw("SELECT COUNT(*) AS n FROM webhook_endpoints").first(decodingColumn: "n", as: Int.self) ?? 0
                guard count < WebhookEndpoint.maxEndpoints else { throw Failure.tooMany }
                let row = try await sql.raw(
                    """
                    INSERT INTO webhook_endpoints (id, url, description, event_types, secret, enabled, created_at, updated_at)
                    VALUES (\(bind: id), \(bind: url), \(bind: description), \(bind: eventTypes.joined(separator: " ")), \(bind: secret),
                        \(bind: true), \(bind: micros), \(bind: micros))
                    RETURNING *
                    """
                ).first()
                guard let row else { throw Failure.notReturned }
                return try Self.endpoint(from: row)
            }
        }
    }

    func endpoint(id: String) async throws -> WebhookEndpoint? {
        try await database.read { sql in
            try await sql.raw("SELECT * FROM webhook_endpoints WHERE id = \(bind: id)").first().map(Self.endpoint(from:))
        }
    }

    /// The endpoints, oldest first by default.
    func list(_ query: ListQuery<NotificationSortField>) async throws -> ListPage<WebhookEndpoint> {
        let list = KeysetList(
            select: "SELECT * FROM webhook_endpoints",
            count: "SELECT COUNT(*) AS total FROM webhook_endpoints",
            filter: "1 = 1",
            keyset: ["seq"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: Self.endpoint(from:),
            cursorValues: { [$0.sequence] }
        )
        return try await list.fetch(query.pagination) { try await database.read($0) }
    }

    /// Whether an enabled endpoint subscribed to `type`.
    func hasSubscribers(of type: String) async throws -> Bool {
        try await keptOrRead { try await database.read { sql in try await Self.readEnabled(in: sql) } }
            .contains { $0.eventTypes.contains(type) }
    }

    /// The enabled endpoints that subscribed to `type`, inside the caller's transaction.
    func subscribers(of type: String, in sql: any SQLDatabase) async throws -> [WebhookEndpoint] {
        try await keptOrRead { try await Self.readEnabled(in: sql) }.filter { $0.eventTypes.contains(type) }
    }

    /// The enabled endpoints, kept ones where this process keeps them, otherwise `read`'s.
    private func keptOrRead(_ read: () async throws -> [WebhookEndpoint]) async throws -> [WebhookEndpoint] {
        guard let kept else { return try await read() }
        return try await kept.enabled(read: read)
    }

    private static func readEnabled(in sql: any SQLDatabase) async throws -> [WebhookEndpoint] {
        try await sql.raw("SELECT * FROM webhook_endpoints WHERE enabled = \(bind: true) ORDER BY seq").all().map(Self.endpoint(from:))
    }

    /// Runs `write`, a change to the endpoints, so that no endpoints read before it ends are kept.
    private func changing<Result>(_ write: () async throws -> Result) async throws -> Result {
        guard let kept else { return try await write() }
        return try await kept.changing(write)
    }

    /// Changes what an endpoint hears or whether it is on; turning it on clears its failures.
    func update(id: String, eventTypes: [String]?, description: String?, enabled: Bool?, at now: Date) async throws -> WebhookEndpoint? {
        try await changing {
            try await database.transaction { sql in
                guard
                    let current = try await sql.raw("SELECT * FROM webhook_endpoints WHERE id = \(bind: id)\(unsafeRaw: sql.forUpdate)").first()
                        .map(Self.endpoint(from:))
                else { return nil }
                let types = eventTypes ?? current.eventTypes
                let on = enabled ?? current.enabled
                let reopened = on && !current.enabled
                let row = try await sql.raw(
                    """
                    UPDATE webhook_endpoints SET event_types = \(bind: types.joined(separator: " ")),
                        description = \(bind: description ?? current.description), enabled = \(bind: on),
                        disabled_reason = \(bind: on ? nil : (current.disabledReason ?? "disabled by an admin")),
                        failing_since = \(bind: reopened ? nil : current.failingSince?.microsecondsSince1970),
                        updated_at = \(bind: now.microsecondsSince1970)
                    WHERE id = \(bind: id) RETURNING *
                    """
                ).first()
                return try row.map(Self.endpoint(from:))
            }
        }
    }

    func delete(id: String) async throws -> Bool {
        try await changing {
            try await database.transaction { sql in
                let deleted = try await sql.raw("DELETE FROM webhook_endpoints WHERE id = \(bind: id) RETURNING id").first() != nil
                if deleted {
                    // What was waiting for it goes nowhere now.
                    try await sql.raw(
                        """
                        UPDATE notifications SET status = 'dead', last_error = 'the endpoint was deleted',
                            updated_at = \(bind: Date().microsecondsSince1970)
                        WHERE channel = 'webhook' AND target = \(bind: id) AND status IN ('queued', 'retrying')
                        """
                    ).run()
                }
                return deleted
            }
        }
    }

    /// Notes a delivery's result: a success ends a run of failures; a failure starts one (or
    /// continues it) and, when `disableAfter` has passed since it began or the endpoint
    /// answered 410, turns the endpoint off. Returns whether it was turned off now.
    @discardableResult
    func noteDelivery(endpointID: String, succeeded: Bool, gone: Bool, disableAfter: Duration, at now: Date) async throws -> Bool {
        let micros = now.microsecondsSince1970
        return try await changing {
            try await database.transaction { sql in
                if succeeded {
                    try await sql.raw(
                        "UPDATE webhook_endpoints SET failing_since = NULL WHERE id = \(bind: endpointID) AND failing_since IS NOT NULL"
                    )
                    .run()
                    return false
                }
                try await sql.raw(
                    "UPDATE webhook_endpoints SET failing_since = \(bind: micros) WHERE id = \(bind: endpointID) AND failing_since IS NULL"
                ).run()
                let cutoff = micros - Int64(disableAfter.seconds * 1_000_000)
                let reason = gone ? "the endpoint answered 410 Gone" : "every delivery failed for \(Int(disableAfter.seconds / 3600)) hours"
                let disabled = try await sql.raw(
                    """
                    UPDATE webhook_endpoints SET enabled = \(bind: false), disabled_reason = \(bind: reason), updated_at = \(bind: micros)
                    WHERE id = \(bind: endpointID) AND enabled = \(bind: true) AND (\(bind: gone) OR failing_since <= \(bind: cutoff))
                    RETURNING id
                    """
                ).first()
                guard disabled != nil else { return false }
                try await sql.raw(
                    """
                    UPDATE notifications SET status = 'dead', last_error = \(bind: "not sent: " + reason), updated_at = \(bind: micros)
                    WHERE channel = 'webhook' AND target = \(bind: endpointID) AND status IN ('queued', 'retrying')
                    """
                ).run()
                return true
            }
        }
    }

    static func endpoint(from row: any SQLRow) throws -> WebhookEndpoint {
        WebhookEndpoint(
            sequence: try row.decode(column: "seq", as: Int64.self),
            id: try row.decode(column: "id", as: String.self),
            url: try row.decode(column: "url", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            eventTypes: try row.decode(column: "event_types", as: String.self).split(separator: " ").map(String.init),
            secret: try row.decode(column: "secret", as: String.self),
            enabled: try row.decode(column: "enabled", as: Bool.self),
            disabledReason: try row.decodeNil(column: "disabled_reason") ? nil : try row.decode(column: "disabled_reason", as: String.self),
            failingSince: try row.decodeNil(column: "failing_since")
                ? nil : Date(microsecondsSince1970: try row.decode(column: "failing_since", as: Int64.self)),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
        )
    }
}
