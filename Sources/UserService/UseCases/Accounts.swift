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
        // Taken before anything is read: an ending committed after this moment is later
        // than the tokens of this login, so it ends them too.
        let issuedAt = now()
        var found: (user: User, passwordHash: String?)?
        if let address = try? EmailAddress(email) {
            found = try await store.credentials(email: address)
        }
        guard try await hasher.verify(password, against: found?.passwordHash), let user = found?.user else {
            if let user = found?.user { recordFailedLogin(of: user.id) }
            throw UserError.invalidCredentials
        }
        let refresh = RefreshToken.generate()
        guard try await sessions.start(refresh, for: user, passwordHash: found?.passwordHash, at: issuedAt) else {
            throw UserError.invalidCredentials
        }
        return try session(for: user, refresh: refresh, issuedAt: issuedAt)
    }

    /// Rotates `presented`; a reused token revokes its family and fails.
    func refresh(_ presented: RefreshToken) async throws -> TokenResource {
        let issuedAt = now()
        let next = RefreshToken.generate()
        switch try await sessions.rotate(presented, to: next, at: issuedAt) {
        case .rotated(let user):
            return try session(for: user, refresh: next, issuedAt: issuedAt)
        case .reused, .invalid:
            throw UserError.invalidRefreshToken
        }
    }

    /// Notes a wrong password for the account in its audit trail, off the answer's path:
    /// a login must take as long for an existing account as for an unknown address.
    private func recordFailedLogin(of userID: Int64) {
        let (audit, requestID, instant) = (AuditLog(database: store.database), RequestIdentifier.current, now())
        Task {
            do {
                try await audit.recordFailedLogin(userID: userID, requestID: requestID, at: instant)
            } catch {
                Logger(label: "shop.users").warning("failed login not recorded", metadata: ["user_id": "\(userID)", "error": "\(error)"])
            }
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
        try await store.changePassword(id: id, to: hash, at: now())
        await endSessionsNow(of: id)
    }

    /// Applies `changes`; a role change ends the user's sessions, so the old role's
    /// tokens stop working at once.
    func update(id: Int64, with changes: UserChanges) async throws -> User {
        let (user, sessionsEnded) = try await store.update(id: id, with: changes, at: now())
        if sessionsEnded { await endSessionsNow(of: id) }
        return user
    }

    /// Deletes the user's personal data and ends its sessions.
    func delete(id: Int64) async throws {
        try await store.delete(id: id, at: now())
        await endSessionsNow(of: id)
    }

    /// See ``UserStore/bootstrapAdmin(_:passwordHash:promoteExisting:at:)``.
    func bootstrapAdmin(_ user: NewUser, passwordHash: String?, promoteExisting: Bool) async throws -> AdminBootstrap {
        let outcome = try await store.bootstrapAdmin(user, passwordHash: passwordHash, promoteExisting: promoteExisting, at: now())
        if case .promoted(let admin, _) = outcome { await endSessionsNow(of: admin.id) }
        return outcome
    }

    /// Tells the guards now; if that fails, the committed `user.sessions_ended` event
    /// tells them once it is delivered.
    /// Tells the guards, with the time after the change committed: a token issued by a
    /// login or refresh that read the account before the change is older (their times are
    /// taken before they read). If telling fails, the committed `user.sessions_ended`
    /// event tells them once it is delivered.
    private func endSessionsNow(of userID: Int64) async {
        try? await cutoffs.endSessions(of: userID, at: now())
    }

    private func session(for user: User, refresh: RefreshToken, issuedAt: Date) throws -> TokenResource {
        let access = try tokens.issue(userID: user.id, role: user.role, now: issuedAt)
        return TokenResource(
            accessToken: access.token,
            expiresIn: access.expiresIn,
            refreshToken: refresh.value,
            refreshExpiresIn: Int(RefreshToken.lifetime.components.seconds)
        )
    }
}
