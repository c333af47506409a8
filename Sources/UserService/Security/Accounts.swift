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
        try await store.changePassword(id: id, to: hash, at: now())
    }

    private func session(for user: User, refresh: RefreshToken) throws -> TokenResource {
        let access = try tokens.issue(userID: user.id, role: user.role, now: now())
        return TokenResource(
            accessToken: access.token, expiresIn: access.expiresIn,
            refreshToken: refresh.value, refreshExpiresIn: Int(RefreshToken.lifetime.components.seconds))
    }
}
