import Foundation
import Platform
import SQLKit

/// Refresh tokens: issued at login, rotated on every use, revoked by family.
struct SessionStore: Sendable {
    let database: any Database

    /// What presenting a refresh token led to.
    enum Rotation: Sendable {
        /// The token was good; it is now used and `next` replaces it for `user`.
        case rotated(user: User)
        /// The token was already used or revoked: its whole family is now revoked.
        case reused
        /// Unknown, expired, or its user is gone.
        case invalid
    }

    /// Starts a new family (a login) with `token` for `user`, unless the account changed
    /// since its credentials were read (`passwordHash`, role) or is gone: a login racing a
    /// password change, demotion or deletion must not outlive it. The user's row is held
    /// until the family is written, so a change waits for it and then revokes it.
    func start(_ token: RefreshToken, for user: User, passwordHash: String?, at now: Date) async throws -> Bool {
        let familyExpires = now.addingTimeInterval(TimeInterval(RefreshToken.familyLifetime.components.seconds)).microsecondsSince1970
        return try await database.transaction { sql in
            guard
                let row = try await sql.raw(
                    """
                    SELECT role, password_hash FROM users WHERE id = \(bind: user.id) AND deleted_at IS NULL\(unsafeRaw: sql.forShare)
                    """
                ).first(),
                try row.decode(column: "role", as: String.self) == user.role.rawValue,
                try row.decode(column: "password_hash", as: String?.self) == passwordHash
            else { return false }
            try await Self.insert(
                token,
                family: UUID().uuidString.lowercased(),
                familyExpires: familyExpires,
                userID: user.id,
                at: now,
                in: sql
            )
            return true
        }
    }

    /// Exchanges `presented` for `next`, once. A second use of `presented` (a replay by
    /// whoever copied it, or by its owner after a thief) revokes the whole family.
    func rotate(_ presented: RefreshToken, to next: RefreshToken, at now: Date) async throws -> Rotation {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            guard
                let row = try await sql.raw(
                    """
                    SELECT id, family, family_expires_at, user_id, created_at, expires_at, used_at, revoked_at FROM refresh_tokens
                    WHERE token_hash = \(bind: presented.digest)
                    """
                ).first()
            else { return .invalid }
            let id = try row.decode(column: "id", as: Int64.self)
            let family = try row.decode(column: "family", as: String.self)
            let userID = try row.decode(column: "user_id", as: Int64.self)
            // The user's row first (as a change of the account takes it first, so neither
            // waits on the other in a circle): the role is read as it is now, and a change
            // of the account waits until this rotation is written, then revokes it.
            guard let user = try await UserStore.activeUser(id: userID, lockedFor: .share, in: sql) else { return .invalid }
            if try !row.decodeNil(column: "revoked_at") || !row.decodeNil(column: "used_at") {
                try await sql.raw(
                    "UPDATE refresh_tokens SET revoked_at = \(bind: micros) WHERE family = \(bind: family) AND revoked_at IS NULL"
                ).run()
                return .reused
            }
            // Rows written by an instance older than the column end 90 days after they began.
            let familyExpires =
                try row.decode(column: "family_expires_at", as: Int64?.self)
                ?? (try row.decode(column: "created_at", as: Int64.self) + RefreshToken.familyLifetime.components.seconds * 1_000_000)
            guard try row.decode(column: "expires_at", as: Int64.self) > micros, familyExpires > micros else { return .invalid }
            // The condition makes two concurrent refreshes with one token race to a single winner.
            let claimed = try await sql.raw(
                """
                UPDATE refresh_tokens SET used_at = \(bind: micros)
                WHERE id = \(bind: id) AND used_at IS NULL AND revoked_at IS NULL RETURNING id
                """
            ).first()
            guard claimed != nil else {
                try await sql.raw(
                    "UPDATE refresh_tokens SET revoked_at = \(bind: micros) WHERE family = \(bind: family) AND revoked_at IS NULL"
                ).run()
                return .reused
            }
            try await Self.insert(next, family: family, familyExpires: familyExpires, userID: userID, at: now, in: sql)
            return .rotated(user: user)
        }
    }

    /// Ends the session `token` belongs to. Unknown tokens are ignored: logging out twice
    /// is not an error.
    func revokeFamily(of token: RefreshToken, at now: Date) async throws {
        let micros = now.microsecondsSince1970
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE refresh_tokens SET revoked_at = \(bind: micros)
                WHERE revoked_at IS NULL AND family IN (SELECT family FROM refresh_tokens WHERE token_hash = \(bind: token.digest))
                """
            ).run()
        }
    }

    /// Removes tokens that expired more than a day ago.
    func purge(now: Date) async throws {
        let cutoff = now.addingTimeInterval(-86_400).microsecondsSince1970
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM refresh_tokens WHERE expires_at < \(bind: cutoff)").run()
        }
    }

    /// Revokes every live refresh token of `userID` inside the caller's transaction.
    static func revokeAll(userID: Int64, at micros: Int64, in sql: any SQLDatabase) async throws {
        try await sql.raw(
            "UPDATE refresh_tokens SET revoked_at = \(bind: micros) WHERE user_id = \(bind: userID) AND revoked_at IS NULL"
        ).run()
    }

    private static func insert(
        _ token: RefreshToken,
        family: String,
        familyExpires: Int64,
        userID: Int64,
        at now: Date,
        in sql: any SQLDatabase
    ) async throws {
        let micros = now.microsecondsSince1970
        let expires = min(now.addingTimeInterval(TimeInterval(RefreshToken.lifetime.components.seconds)).microsecondsSince1970, familyExpires)
        try await sql.raw(
            """
            INSERT INTO refresh_tokens (token_hash, family, family_expires_at, user_id, created_at, expires_at)
            VALUES (\(bind: token.digest), \(bind: family), \(bind: familyExpires), \(bind: userID), \(bind: micros), \(bind: expires))
            """
        ).run()
    }
}
