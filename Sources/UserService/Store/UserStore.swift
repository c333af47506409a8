import Foundation
import Platform
import SQLKit

/// The Users service's SQL: one implementation for SQLite and PostgreSQL.
struct UserStore: Sendable {
    let database: any Database

    private static let columns = "id, email, name, created_at, updated_at"

    /// Inserts `user`; throws ``UserError/emailTaken`` when the email is registered.
    func create(_ user: NewUser, at now: Date) async throws -> User {
        let micros = now.microsecondsSince1970
        let row = try await database.transaction { sql in
            try await sql.raw(
                """
                INSERT INTO users (email, email_normalized, name, created_at, updated_at)
                VALUES (\(bind: user.email.value), \(bind: user.email.normalized), \(bind: user.name.value), \(bind: micros), \(bind: micros))
                ON CONFLICT (email_normalized) DO NOTHING
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).first()
        }
        guard let row else { throw UserError.emailTaken }
        return try Self.user(from: row)
    }

    /// The user with `id`, unless there is none or it was deleted.
    func find(id: Int64) async throws -> User? {
        let row = try await database.read { sql in
            try await sql.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM users WHERE id = \(bind: id) AND deleted_at IS NULL"
            ).first()
        }
        return try row.map(Self.user(from:))
    }

    /// A page of users in the requested order, optionally only the one with `email`.
    func list(_ query: ListQuery<UserSortField>, email: EmailAddress?) async throws -> ListPage<User> {
        var filter = SQLQueryString("deleted_at IS NULL")
        if let email {
            filter.appendInterpolation(unsafeRaw: " AND email_normalized = ")
            filter.appendInterpolation(bind: email.normalized)
        }
        let direction = query.sort.descending ? "DESC" : "ASC"
        let order = "ORDER BY created_at \(direction), id \(direction)"
        switch query.pagination {
        case .page(let number, let perPage):
            return try await database.read { sql in
                let total = try await sql.raw("SELECT COUNT(*) AS total FROM users WHERE \(filter)")
                    .first(decodingColumn: "total", as: Int.self) ?? 0
                let rows = try await sql.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM users WHERE \(filter)
                    \(unsafeRaw: order) LIMIT \(bind: perPage) OFFSET \(bind: (number - 1) * perPage)
                    """
                ).all()
                return .page(items: try rows.map(Self.user(from:)), number: number, perPage: perPage, total: total)
            }
        case .cursor(let cursor, let perPage):
            var keyset = filter
            if let cursor {
                guard cursor.values.count == 2, let createdAt = Int64(cursor.values[0]), let id = Int64(cursor.values[1]) else {
                    throw APIError.validation("Is not a cursor this list gave", field: "cursor")
                }
                keyset.appendInterpolation(unsafeRaw: query.sort.descending ? " AND (created_at, id) < (" : " AND (created_at, id) > (")
                keyset.appendInterpolation(bind: createdAt)
                keyset.appendInterpolation(unsafeRaw: ", ")
                keyset.appendInterpolation(bind: id)
                keyset.appendInterpolation(unsafeRaw: ")")
            }
            let rows = try await database.read { sql in
                try await sql.raw(
                    "SELECT \(unsafeRaw: Self.columns) FROM users WHERE \(keyset) \(unsafeRaw: order) LIMIT \(bind: perPage + 1)"
                ).all()
            }
            var users = try rows.map(Self.user(from:))
            var next: Cursor?
            if users.count > perPage {
                users.removeLast()
                let last = users[users.count - 1]
                next = Cursor(sort: query.sort.parameter, values: [String(last.createdAt.microsecondsSince1970), String(last.id)])
            }
            return .cursor(items: users, perPage: perPage, next: next)
        }
    }

    /// Applies `changes` to the user with `id` in one transaction.
    func update(id: Int64, with changes: UserChanges, at now: Date) async throws -> User {
        do {
            return try await database.transaction { sql in
                guard let row = try await sql.raw(
                    "SELECT \(unsafeRaw: Self.columns) FROM users WHERE id = \(bind: id) AND deleted_at IS NULL"
                ).first() else { throw UserError.notFound(id: id) }
                let current = try Self.user(from: row)
                let updated = changes.applied(to: current, at: now)
                guard updated != current else { return current }
                try await sql.raw(
                    """
                    UPDATE users SET email = \(bind: updated.email.value), email_normalized = \(bind: updated.email.normalized),
                        name = \(bind: updated.name.value), updated_at = \(bind: updated.updatedAt.microsecondsSince1970)
                    WHERE id = \(bind: id)
                    """
                ).run()
                return updated
            }
        } catch where DatabaseErrors.isUniqueViolation(error) {
            throw UserError.emailTaken
        }
    }

    /// Removes the personal data of the user with `id`, leaving a tombstone so the id is
    /// never reused. Frees the email for a new registration.
    func delete(id: Int64, at now: Date) async throws {
        let deleted = try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE users SET email = NULL, email_normalized = NULL, name = NULL,
                    updated_at = \(bind: now.microsecondsSince1970), deleted_at = \(bind: now.microsecondsSince1970)
                WHERE id = \(bind: id) AND deleted_at IS NULL
                RETURNING id
                """
            ).first()
        }
        guard deleted != nil else { throw UserError.notFound(id: id) }
    }

    /// Registers many users in one transaction (for seeding); skips taken emails.
    func createMany(_ users: [NewUser], at now: Date) async throws {
        let micros = now.microsecondsSince1970
        try await database.transaction { sql in
            for (offset, user) in users.enumerated() {
                try await sql.raw(
                    """
                    INSERT INTO users (email, email_normalized, name, created_at, updated_at)
                    VALUES (\(bind: user.email.value), \(bind: user.email.normalized), \(bind: user.name.value), \(bind: micros + Int64(offset)), \(bind: micros + Int64(offset)))
                    ON CONFLICT (email_normalized) DO NOTHING
                    """
                ).run()
            }
        }
    }

    private static func user(from row: any SQLRow) throws -> User {
        User(
            id: try row.decode(column: "id", as: Int64.self),
            email: EmailAddress(stored: try row.decode(column: "email", as: String.self)),
            name: PersonName(stored: try row.decode(column: "name", as: String.self)),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
        )
    }
}
