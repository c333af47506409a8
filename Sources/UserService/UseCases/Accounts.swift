import Foundation
import Logging
import Platform
import UserAPI

/// Accounts and sessions: registration, logins, token refresh and password changes,
/// over the Users service's stores.
struct Accounts: Sendable {
    let store: UserStore
    let sessions: SessionStore
    let hasher: PasswordHasher
    let tokens: AccessTokens
    /// Where ended sessions are told to every guard at once; the `user.sessions_ended`
    /// event tells the rest.
    let cutoffs: any SessionCutoffs
    let now: @Sendable () -> Date

    /// Registers a user; anonymous callers and non-admins always get `customer`.
    func register(_ registration: Registration, by creator: Principal?) async throws -> User {
        var user = registration.user
        user.role = try UserAccess.roleForNewUser(requested: registration.requestedRole, creator: creator)
        let hash = try await hasher.hash(registration.password)
        return try await store.create(user, passwordHash: hash, at: now())
    }

    /// A new session for the owner of `email` and `password`; the same
    /// ``UserError/invalidCredentials`` whether the email is unknown or the password wrong.
    func logIn(email: String, password: String) async throws -> TokenResource {
        var found: (user: User, passwordHash: String?)?
        if let address = try? EmailAddress(email) {
            found = try await store.credentials(email: address)
        }
        guard try await hasher.verify(password, against: found?.passwordHash), let user = found?.user else {
            // Kept for the account's audit trail; an unknown address has no account to note it on.
            if let user = found?.user {
                try await AuditLog(database: store.database).recordFailedLogin(userID: user.id, requestID: RequestIdentifier.current, at: now())
            }
            throw UserError.invalidCredentials
        }
        let refresh = RefreshToken.generate()
        try await sessions.start(refresh, userID: user.id, at: now())
        return try session(for: user, refresh: refresh)
    }

    /// Rotates `presented`; a reused token revokes its family and fails.
    func refresh(_ presented: RefreshToken) async throws -> TokenResource {
        let next = RefreshToken.generate()
        switch try await sessions.rotate(presented, to: next, at: now()) {
        case .rotated(let user):
            return try session(for: user, refresh: next)
        case .reused, .invalid:
            throw UserError.invalidRefreshToken
        }
    }

    func logOut(_ presented: RefreshToken) async throws {
        try await sessions.revokeFamily(of: presented, at: now())
    }

    /// Replaces the password after checking the current one; ends every session.
    func changePassword(id: Int64, current: String, new: Password) async throws {
        let stored = try await store.passwordHash(id: id)
        guard try await hasher.verify(current, against: stored) else { throw UserError.wrongCurrentPassword }
        let hash = try await hasher.hash(new)
        let instant = now()
        try await store.changePassword(id: id, to: hash, at: instant)
        await endSessions(of: id, at: instant)
    }

    /// Applies `changes`; a role change ends the user's sessions, so the old role's
    /// tokens stop working at once.
    func update(id: Int64, with changes: UserChanges) async throws -> User {
        let instant = now()
        let (user, sessionsEnded) = try await store.update(id: id, with: changes, at: instant)
        if sessionsEnded { await endSessions(of: id, at: instant) }
        return user
    }

    /// Deletes the user's personal data and ends its sessions.
    func delete(id: Int64) async throws {
        let instant = now()
        try await store.delete(id: id, at: instant)
        await endSessions(of: id, at: instant)
    }

    /// See ``UserStore/bootstrapAdmin(_:passwordHash:promoteExisting:at:)``.
    func bootstrapAdmin(_ user: NewUser, passwordHash: String?, promoteExisting: Bool) async throws -> AdminBootstrap {
        let instant = now()
        let outcome = try await store.bootstrapAdmin(user, passwordHash: passwordHash, promoteExisting: promoteExisting, at: instant)
        if case .promoted(let admin, _) = outcome { await endSessions(of: admin.id, at: instant) }
        return outcome
    }

    /// Tells the guards now; if that fails, the committed `user.sessions_ended` event
    /// tells them once it is delivered.
    private func endSessions(of userID: Int64, at instant: Date) async {
        try? await cutoffs.endSessions(of: userID, at: instant)
    }

    private func session(for user: User, refresh: RefreshToken) throws -> TokenResource {
        let access = try tokens.issue(userID: user.id, role: user.role, now: now())
        return TokenResource(
            accessToken: access.token,
            expiresIn: access.expiresIn,
            refreshToken: refresh.value,
            refreshExpiresIn: Int(RefreshToken.lifetime.components.seconds)
        )
    }
}
