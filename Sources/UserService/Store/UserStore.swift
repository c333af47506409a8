import Foundation
import Platform
import SQLKit
import UserAPI

/// The Users service's SQL: one implementation for SQLite and PostgreSQL.
///
/// Every change others must hear about writes its event into the outbox in the same
/// transaction, and wakes the relay once committed.
struct UserStore: Sendable {
    /// The database's count of changes to users (migration 7).
    static let changeCount = ChangeCount(table: "user_changes")

    let database: any Database
    let outbox: EventOutbox
    /// The number of users, kept between this process's writes and for at most a second
    /// (for other instances' writes, on PostgreSQL): the list's total without counting
    /// every row on every request, which at a million users would be most of its cost.
    let keptCount: KeptWhileUnwritten<Int>?
    /// On PostgreSQL, reads of users by id that arrive while one is under way go together in
    /// the next query (``ReadRounds``): one round trip and one statement for many requests,
    /// each still reading what was committed before it arrived. SQLite, in this process,
    /// answers a read in microseconds and needs none.
    let byID: ReadRounds<Int64, [Int64: User]>?
    /// The same for list pages: requests for one page that arrive while it is being read
    /// share the next reading of it.
    let pages: ReadRounds<PageKey, [PageKey: ListPage<User>]>?

    struct PageKey: Hashable, Sendable {
        var query: ListQuery<UserSortField>
        var email: EmailAddress?
    }

    init(database: any Database) {
        self.database = database
        // Events are written in the change's own transaction; the relay's transactions (its
        // lock, the rows marked sent) change nothing a read keeps, so they are not counted.
        self.outbox = EventOutbox(database: (database as? WriteCountingDatabase)?.base ?? database, source: "/users")
        self.keptCount = (database as? WriteCountingDatabase).map { KeptWhileUnwritten(database: $0) }
        self.byID =
            database.kind == .postgres
            ? ReadRounds(maxKeys: 500) { ids in
                let rows = try await database.read { sql in
                    try await sql.raw(
                        "SELECT \(unsafeRaw: Self.columns) FROM users WHERE id IN (\(binds: ids)) AND deleted_at IS NULL"
                    ).all()
                }
                var users: [Int64: User] = [:]
                for row in rows {
                    let user = try Self.user(from: row)
                    users[user.id] = user
                }
                return users
            } : nil
        let store = UserStore(database: database, outbox: outbox, keptCount: keptCount)
        self.pages =
            database.kind == .postgres
            ? ReadRounds(maxKeys: 16) { keys in
                try await withThrowingTaskGroup(of: (PageKey, ListPage<User>).self) { group in
                    for key in keys { group.addTask { (key, try await store.listNow(key.query, email: key.email)) } }
                    return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
            } : nil
    }

    /// A store without rounds, for the rounds' own reads.
    private init(database: any Database, outbox: EventOutbox, keptCount: KeptWhileUnwritten<Int>?) {
        self.database = database
        self.outbox = outbox
        self.keptCount = keptCount
        self.byID = nil
        self.pages = nil
    }

    private static let columns = "id, email, name, role, created_at, updated_at"

    /// Inserts `user` with its password hash; throws ``UserError/emailTaken`` when the
    /// email is registered.
    func create(_ user: NewUser, passwordHash: String?, at now: Date) async throws -> User {
        let micros = now.microsecondsSince1970
        let created = try await database.transaction { sql -> User? in
            guard
                let row = try await sql.raw(
                    """
                    INSERT INTO users (email, email_normalized, name, role, password_hash, created_at, updated_at)
                    VALUES (\(bind: user.email.value), \(bind: user.email.normalized), \(bind: user.name.value), \(bind: user.role.rawValue),
                        \(bind: passwordHash), \(bind: micros), \(bind: micros))
                    ON CONFLICT (email_normalized) DO NOTHING
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { return nil }
            let user = try Self.user(from: row)
            try await outbox.append(UserRegistered(user), at: now, in: sql)
            return user
        }
        guard let created else { throw UserError.emailTaken }
        outbox.committed()
        return created
    }

    /// The user with `id`, unless there is none or it was deleted.
    func find(id: Int64) async throws -> User? {
        if let byID { return try await byID.read([id])[id] }
        let row = try await database.read { sql in
            try await sql.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM users WHERE id = \(bind: id) AND deleted_at IS NULL"
            ).first()
        }
        return try row.map(Self.user(from:))
    }

    /// A page of users in the requested order, optionally only the one with `email`.
    func list(_ query: ListQuery<UserSortField>, email: EmailAddress?) async throws -> ListPage<User> {
        guard let pages else { return try await listNow(query, email: email) }
        let key = PageKey(query: query, email: email)
        guard let page = try await pages.read([key])[key] else { return try await listNow(query, email: email) }
        return page
    }

    private func listNow(_ query: ListQuery<UserSortField>, email: EmailAddress?) async throws -> ListPage<User> {
        var filter = SQLQueryString("deleted_at IS NULL")
        if let email {
            filter.appendInterpolation(unsafeRaw: " AND email_normalized = ")
            filter.appendInterpolation(bind: email.normalized)
        }
        var list = KeysetList(
            select: "SELECT \(Self.columns) FROM users",
            count: "SELECT COUNT(*) AS total FROM users",
            filter: filter,
            keyset: ["created_at", "id"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: Self.user(from:),
            cursorValues: { [$0.createdAt.microsecondsSince1970, $0.id] }
        )
        if email == nil { list.keptTotal = keptCount }
        return try await list.fetch(query.pagination) { try await database.read($0) }
    }

    /// Applies `changes` to the user with `id` in one transaction. A role change ends every
    /// session of the user (`sessionsEnded`).
    func update(id: Int64, with changes: UserChanges, at now: Date) async throws -> (user: User, sessionsEnded: Bool) {
        do {
            let result = try await database.transaction { sql -> (User, Bool) in
                // Locked: a profile edit racing an admin's role change must not write back
                // the role it read.
                guard
                    let row = try await sql.raw(
                        "SELECT \(unsafeRaw: Self.columns) FROM users WHERE id = \(bind: id) AND deleted_at IS NULL\(unsafeRaw: sql.forUpdate)"
                    ).first()
                else { throw UserError.notFound(id: id) }
                let current = try Self.user(from: row)
                let updated = changes.applied(to: current, at: now)
                guard updated != current else { return (current, false) }
                try await outbox.append(UserUpdated(from: current, to: updated), at: now, in: sql)
                try await sql.raw(
                    """
                    UPDATE users SET email = \(bind: updated.email.value), email_normalized = \(bind: updated.email.normalized),
                        name = \(bind: updated.name.value), role = \(bind: updated.role.rawValue), updated_at = \(bind: updated.updatedAt.microsecondsSince1970)
                    WHERE id = \(bind: id)
                    """
                ).run()
                guard updated.role != current.role else { return (updated, false) }
                try await endSessions(of: id, reason: "role_changed", at: now, in: sql)
                return (updated, true)
            }
            outbox.committed()
            return result
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            throw UserError.emailTaken
        }
    }

    /// Revokes every refresh token of `userID` and says so in `user.sessions_ended`, inside
    /// the caller's transaction, so access tokens issued before `now` are refused everywhere.
    private func endSessions(of userID: Int64, reason: String, at now: Date, in sql: any SQLDatabase) async throws {
        try await SessionStore.revokeAll(userID: userID, at: now.microsecondsSince1970, in: sql)
        try await outbox.append(UserSessionsEnded(userID: userID, endedAt: now.millisecondsSince1970, reason: reason), at: now, in: sql)
    }

    /// Removes the personal data of the user with `id`, leaving a tombstone so the id is
    /// never reused, and ends its sessions. Frees the email for a new registration.
    func delete(id: Int64, at now: Date) async throws {
        let micros = now.microsecondsSince1970
        let deleted = try await database.transaction { sql in
            let row = try await sql.raw(
                """
                UPDATE users SET email = NULL, email_normalized = NULL, name = NULL, password_hash = NULL,
                    updated_at = \(bind: micros), deleted_at = \(bind: micros)
                WHERE id = \(bind: id) AND deleted_at IS NULL
                RETURNING id
                """
            ).first()
            guard row != nil else { return false }
            try await sql.raw("DELETE FROM user_preferences WHERE user_id = \(bind: id)").run()
            try await endSessions(of: id, reason: "deleted", at: now, in: sql)
            try await outbox.append(UserDeleted(userID: id), at: now, in: sql)
            return true
        }
        guard deleted else { throw UserError.notFound(id: id) }
        outbox.committed()
    }

    /// The user registered with `email` and their password hash, for a login.
    func credentials(email: EmailAddress) async throws -> (user: User, passwordHash: String?)? {
        let row = try await database.read { sql in
            try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.columns), password_hash FROM users
                WHERE email_normalized = \(bind: email.normalized) AND deleted_at IS NULL
                """
            ).first()
        }
        guard let row else { return nil }
        return (try Self.user(from: row), try row.decodeNil(column: "password_hash") ? nil : row.decode(column: "password_hash", as: String.self))
    }

    /// The password hash of the user with `id`.
    func passwordHash(id: Int64) async throws -> String? {
        let row = try await database.read { sql in
            try await sql.raw("SELECT password_hash FROM users WHERE id = \(bind: id) AND deleted_at IS NULL").first()
        }
        guard let row else { throw UserError.notFound(id: id) }
        return try row.decodeNil(column: "password_hash") ? nil : row.decode(column: "password_hash", as: String.self)
    }

    /// Replaces the password of the user with `id` and ends every session it had, in one
    /// transaction: a stolen refresh token dies with the old password.
    func changePassword(id: Int64, to hash: String, at now: Date) async throws {
        let micros = now.microsecondsSince1970
        try await database.transaction { sql in
            let row = try await sql.raw(
                """
                UPDATE users SET password_hash = \(bind: hash), updated_at = \(bind: micros)
                WHERE id = \(bind: id) AND deleted_at IS NULL RETURNING id
                """
            ).first()
            guard row != nil else { throw UserError.notFound(id: id) }
            try await endSessions(of: id, reason: "password_changed", at: now, in: sql)
        }
        outbox.committed()
    }

    /// Makes the user with `email` an admin, creating it with `passwordHash` when there is
    /// none. An existing account is promoted only with `promoteExisting` (anyone may have
    /// registered that address), and then every session it had ends.
    func bootstrapAdmin(
        _ user: NewUser,
        passwordHash: String?,
        promoteExisting: Bool,
        at now: Date
    ) async throws -> AdminBootstrap {
        let micros = now.microsecondsSince1970
        let outcome = try await database.transaction { sql -> AdminBootstrap in
            if let row = try await sql.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM users
                WHERE email_normalized = \(bind: user.email.normalized) AND deleted_at IS NULL\(unsafeRaw: sql.forUpdate)
                """
            ).first() {
                let existing = try Self.user(from: row)
                guard promoteExisting else { return .exists(existing) }
                guard
                    let promoted = try await sql.raw(
                        """
                        UPDATE users SET role = \(bind: Role.admin.rawValue), updated_at = \(bind: micros),
                            password_hash = COALESCE(\(bind: passwordHash), password_hash)
                        WHERE id = \(bind: existing.id)
                        RETURNING \(unsafeRaw: Self.columns)
                        """
                    ).first().map(Self.user(from:))
                else { throw UserError.notFound(id: existing.id) }
                var changed = promoted.role != existing.role ? ["role"] : []
                if passwordHash != nil { changed.append("password") }
                try await outbox.append(
                    UserUpdated(
                        userID: promoted.id,
                        changed: changed,
                        email: promoted.email.value,
                        name: promoted.name.value,
                        role: promoted.role.rawValue
                    ),
                    at: now,
                    in: sql
                )
                try await endSessions(of: promoted.id, reason: "promoted", at: now, in: sql)
                return .promoted(promoted, previousRole: existing.role)
            }
            guard let passwordHash else { return .needsPassword }
            guard
                let row = try await sql.raw(
                    """
                    INSERT INTO users (email, email_normalized, name, role, password_hash, created_at, updated_at)
                    VALUES (\(bind: user.email.value), \(bind: user.email.normalized), \(bind: user.name.value), \(bind: Role.admin.rawValue),
                        \(bind: passwordHash), \(bind: micros), \(bind: micros))
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { throw UserError.emailTaken }
            let created = try Self.user(from: row)
            try await outbox.append(UserRegistered(created), at: now, in: sql)
            return .created(created)
        }
        outbox.committed()
        return outcome
    }

    /// The preferences of the user with `id`, or the defaults when never set.
    func preferences(id: Int64) async throws -> Preferences {
        try await database.read { sql in
            guard try await sql.raw("SELECT id FROM users WHERE id = \(bind: id) AND deleted_at IS NULL").first() != nil else {
                throw UserError.notFound(id: id)
            }
            return try await Self.preferences(id: id, in: sql)
        }
    }

    /// Stores `preferences` for the user with `id`.
    func setPreferences(_ preferences: Preferences, id: Int64, at now: Date) async throws {
        try await database.transaction { sql in
            guard try await sql.raw("SELECT id FROM users WHERE id = \(bind: id) AND deleted_at IS NULL").first() != nil else {
                throw UserError.notFound(id: id)
            }
            try await save(preferences, id: id, at: now, in: sql)
        }
        outbox.committed()
    }

    /// Turns one kind of e-mail off for a user who followed an unsubscribe link, inside the
    /// caller's transaction; a user deleted meanwhile is left alone.
    func unsubscribe(id: Int64, fromOrderEmails orders: Bool, fromMarketing marketing: Bool, at now: Date, in sql: any SQLDatabase) async throws {
        guard try await sql.raw("SELECT id FROM users WHERE id = \(bind: id) AND deleted_at IS NULL\(unsafeRaw: sql.forUpdate)").first() != nil
        else { return }
        // A choice the user made after clicking stands.
        let chosen = try await sql.raw("SELECT updated_at FROM user_preferences WHERE user_id = \(bind: id)")
            .first(decodingColumn: "updated_at", as: Int64.self)
        if let chosen, chosen >= now.microsecondsSince1970 { return }
        var preferences = try await Self.preferences(id: id, in: sql)
        if orders { preferences.orderEmails = false }
        if marketing { preferences.marketingEmails = false }
        try await save(preferences, id: id, at: now, in: sql)
    }

    private static func preferences(id: Int64, in sql: any SQLDatabase) async throws -> Preferences {
        guard
            let row = try await sql.raw(
                "SELECT marketing_emails, order_emails, sms, push, locale FROM user_preferences WHERE user_id = \(bind: id)"
            ).first()
        else { return .defaults }
        return Preferences(
            marketingEmails: try row.decode(column: "marketing_emails", as: Bool.self),
            orderEmails: try row.decode(column: "order_emails", as: Bool.self),
            sms: try row.decode(column: "sms", as: Bool.self),
            push: try row.decode(column: "push", as: Bool.self),
            locale: LanguageTag(stored: try row.decode(column: "locale", as: String.self))
        )
    }

    private func save(_ preferences: Preferences, id: Int64, at now: Date, in sql: any SQLDatabase) async throws {
        try await sql.raw(
            """
            INSERT INTO user_preferences (user_id, marketing_emails, order_emails, sms, push, locale, updated_at)
            VALUES (\(bind: id), \(bind: preferences.marketingEmails), \(bind: preferences.orderEmails), \(bind: preferences.sms),
                \(bind: preferences.push), \(bind: preferences.locale.value), \(bind: now.microsecondsSince1970))
            ON CONFLICT (user_id) DO UPDATE SET marketing_emails = EXCLUDED.marketing_emails,
                order_emails = EXCLUDED.order_emails, sms = EXCLUDED.sms, push = EXCLUDED.push,
                locale = EXCLUDED.locale, updated_at = EXCLUDED.updated_at
            """
        ).run()
        // Notifications keeps its own copy of these: it hears every change.
        try await outbox.append(
            UserPreferencesChanged(
                userID: id,
                marketingEmails: preferences.marketingEmails,
                orderEmails: preferences.orderEmails,
                sms: preferences.sms,
                push: preferences.push,
                locale: preferences.locale.value
            ),
            at: now,
            in: sql
        )
    }

    /// Registers many users in one transaction (for seeding); skips taken emails.
    func createMany(_ users: [NewUser], at now: Date) async throws {
        let micros = now.microsecondsSince1970
        try await database.transaction { sql in
            for (offset, user) in users.enumerated() {
                let row = try await sql.raw(
                    """
                    INSERT INTO users (email, email_normalized, name, created_at, updated_at)
                    VALUES (\(bind: user.email.value), \(bind: user.email.normalized), \(bind: user.name.value), \(bind: micros + Int64(offset)), \(bind: micros + Int64(offset)))
                    ON CONFLICT (email_normalized) DO NOTHING
                    RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
                if let row { try await outbox.append(UserRegistered(try Self.user(from: row)), at: now, in: sql) }
            }
        }
        outbox.committed()
    }

    /// How a row read inside a transaction is held until it ends.
    enum RowLock {
        case none
        case share
    }

    /// The user with `id` unless deleted, inside the caller's transaction.
    static func activeUser(id: Int64, lockedFor lock: RowLock = .none, in sql: any SQLDatabase) async throws -> User? {
        try await sql.raw(
            """
            SELECT \(unsafeRaw: columns) FROM users WHERE id = \(bind: id) AND deleted_at IS NULL\(unsafeRaw: lock == .share ? sql.forShare : "")
            """
        ).first().map(user(from:))
    }

    private static func user(from row: any SQLRow) throws -> User {
        User(
            id: try row.decode(column: "id", as: Int64.self),
            email: EmailAddress(stored: try row.decode(column: "email", as: String.self)),
            name: PersonName(stored: try row.decode(column: "name", as: String.self)),
            role: Role(rawValue: try row.decode(column: "role", as: String.self)) ?? .customer,
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
        )
    }
}
