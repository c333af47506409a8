import Foundation
import Platform
import SQLKit

/// One account event as the audit log keeps it: who, what and when, no personal data.
struct AuditEntry: Sendable, Hashable {
    let id: Int64
    let eventID: String
    let type: String
    let userID: Int64
    /// Who acted: the signed-in user of the request, when there was one.
    let actorID: Int64?
    let requestID: String?
    let occurredAt: Date
    /// For `user.updated`: the fields that changed.
    let changed: [String]
}

/// How the audit log is sorted: by arrival.
enum AuditSortField: String, CaseIterable, Sendable, SortField {
    case id
}

/// The audit log's SQL.
struct AuditLog: Sendable {
    let database: any Database

    static func migration(_ version: Int) -> Migration {
        Migration(version, "audit log of account events") { sql in
            try await sql.raw(
                """
                CREATE TABLE audit_log (
                    id \(unsafeRaw: sql.identityColumn),
                    event_id TEXT NOT NULL,
                    type TEXT NOT NULL,
                    user_id BIGINT NOT NULL,
                    request_id TEXT,
                    occurred_at BIGINT NOT NULL,
                    changed TEXT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX audit_log_user_id_idx ON audit_log (user_id, id)").run()
        }
    }

    /// The type of the entries a failed login leaves (no event: nothing changed).
    static let failedLogin = "user.login_failed"
    /// How long failed logins are kept: a client can make them, so they do not stay forever.
    static let failedLoginRetention: TimeInterval = 90 * 86_400

    /// Records one event inside the consumer's transaction.
    static func record(
        eventID: String,
        type: String,
        userID: Int64,
        actorID: Int64?,
        requestID: String?,
        occurredAt: Date,
        changed: [String],
        in sql: any SQLDatabase
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO audit_log (event_id, type, user_id, actor_id, request_id, occurred_at, changed)
            VALUES (\(bind: eventID), \(bind: type), \(bind: userID), \(bind: actorID), \(bind: requestID),
                \(bind: occurredAt.microsecondsSince1970), \(bind: changed.joined(separator: ",")))
            """
        ).run()
    }

    /// Records a wrong password given for the account `userID`.
    func recordFailedLogin(userID: Int64, requestID: String?, at now: Date) async throws {
        try await database.transaction { sql in
            try await Self.record(
                eventID: UUID().uuidString.lowercased(),
                type: Self.failedLogin,
                userID: userID,
                actorID: nil,
                requestID: requestID,
                occurredAt: now,
                changed: [],
                in: sql
            )
        }
    }

    /// Removes failed logins older than ``failedLoginRetention``.
    func purgeFailedLogins(now: Date) async throws {
        let cutoff = now.addingTimeInterval(-Self.failedLoginRetention).microsecondsSince1970
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM audit_log WHERE type = \(bind: Self.failedLogin) AND occurred_at < \(bind: cutoff)").run()
        }
    }

    /// A page of entries, newest first by default, optionally for one user.
    func list(_ query: ListQuery<AuditSortField>, userID: Int64?) async throws -> ListPage<AuditEntry> {
        var filter = SQLQueryString("1 = 1")
        if let userID {
            filter.appendInterpolation(unsafeRaw: " AND user_id = ")
            filter.appendInterpolation(bind: userID)
        }
        let list = KeysetList(
            select: "SELECT id, event_id, type, user_id, actor_id, request_id, occurred_at, changed FROM audit_log",
            count: "SELECT COUNT(*) AS total FROM audit_log",
            filter: filter,
            keyset: ["id"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: Self.entry(from:),
            cursorValues: { [$0.id] }
        )
        return try await list.fetch(query.pagination) { try await database.read($0) }
    }

    private static func entry(from row: any SQLRow) throws -> AuditEntry {
        let changed = try row.decode(column: "changed", as: String.self)
        return AuditEntry(
            id: try row.decode(column: "id", as: Int64.self),
            eventID: try row.decode(column: "event_id", as: String.self),
            type: try row.decode(column: "type", as: String.self),
            userID: try row.decode(column: "user_id", as: Int64.self),
            actorID: try row.decodeNil(column: "actor_id") ? nil : row.decode(column: "actor_id", as: Int64.self),
            requestID: try row.decodeNil(column: "request_id") ? nil : row.decode(column: "request_id", as: String.self),
            occurredAt: Date(microsecondsSince1970: try row.decode(column: "occurred_at", as: Int64.self)),
            changed: changed.isEmpty ? [] : changed.split(separator: ",").map(String.init)
        )
    }
}
