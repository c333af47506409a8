import Foundation
import Platform
import TestSupport
import Testing

@testable import UserService

/// Refresh-token rotation against real SQLite and PostgreSQL.
@Suite struct SessionStoreTests {
    static let kinds = TestDatabases.kinds()
    static let t0 = Date(microsecondsSince1970: 1_764_065_700_000_000)

    private func withStores(_ kind: DatabaseKind, _ body: @Sendable (UserStore, SessionStore, User) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(UserService.migrations, logger: TestDatabases.logger).migrate(database)
            let store = UserStore(database: database)
            let user = try await store.create(
                NewUser(email: try EmailAddress("ada@example.com"), name: try PersonName("Ada")),
                passwordHash: "x",
                at: Self.t0
            )
            try await body(store, SessionStore(database: database), user)
        }
    }

    @Test(arguments: kinds)
    func aRefreshTokenRotatesOnceAndItsReuseRevokesTheFamily(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { _, sessions, user in
            let first = RefreshToken.generate()
            #expect(try await sessions.start(first, for: user, passwordHash: "x", at: Self.t0))
            let second = RefreshToken.generate()
            guard case .rotated(let owner) = try await sessions.rotate(first, to: second, at: Self.t0) else {
                Issue.record("a fresh token must rotate")
                return
            }
            #expect(owner.id == user.id)
            // The first token comes back: a thief or a replay. The whole family dies,
            // including the second token its rightful owner holds.
            guard case .reused = try await sessions.rotate(first, to: RefreshToken.generate(), at: Self.t0) else {
                Issue.record("a used token must count as reused")
                return
            }
            guard case .reused = try await sessions.rotate(second, to: RefreshToken.generate(), at: Self.t0) else {
                Issue.record("the family must be revoked")
                return
            }
        }
    }

    @Test(arguments: kinds)
    func concurrentRefreshesWithOneTokenHaveOneWinner(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { _, sessions, user in
            let token = RefreshToken.generate()
            #expect(try await sessions.start(token, for: user, passwordHash: "x", at: Self.t0))
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        if case .rotated = try await sessions.rotate(token, to: RefreshToken.generate(), at: Self.t0) { return true }
                        return false
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
        }
    }

    @Test(arguments: kinds)
    func unknownExpiredAndLoggedOutTokensAreInvalid(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { store, sessions, user in
            guard case .invalid = try await sessions.rotate(RefreshToken.generate(), to: RefreshToken.generate(), at: Self.t0) else {
                Issue.record("an unknown token must be invalid")
                return
            }
            let old = RefreshToken.generate()
            #expect(try await sessions.start(old, for: user, passwordHash: "x", at: Self.t0))
            let later = Self.t0.addingTimeInterval(TimeInterval(RefreshToken.lifetime.components.seconds) + 1)
            guard case .invalid = try await sessions.rotate(old, to: RefreshToken.generate(), at: later) else {
                Issue.record("an expired token must be invalid")
                return
            }
            let live = RefreshToken.generate()
            #expect(try await sessions.start(live, for: user, passwordHash: "x", at: Self.t0))
            try await sessions.revokeFamily(of: live, at: Self.t0)
            try await sessions.revokeFamily(of: live, at: Self.t0)
            guard case .reused = try await sessions.rotate(live, to: RefreshToken.generate(), at: Self.t0) else {
                Issue.record("a logged-out token must not rotate")
                return
            }
            let beforeChange = RefreshToken.generate()
            #expect(try await sessions.start(beforeChange, for: user, passwordHash: "x", at: Self.t0))
            try await store.changePassword(id: user.id, to: "new-hash", at: Self.t0)
            #expect(try await store.passwordHash(id: user.id) == "new-hash")
            guard case .reused = try await sessions.rotate(beforeChange, to: RefreshToken.generate(), at: Self.t0) else {
                Issue.record("a password change must end sessions")
                return
            }
        }
    }

    @Test(arguments: kinds)
    func preferencesDefaultThenKeepWhatWasSet(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { store, _, user in
            #expect(try await store.preferences(id: user.id) == .defaults)
            let chosen = Preferences(marketingEmails: true, orderEmails: false, sms: true, push: false, locale: try LanguageTag("de-CH"))
            try await store.setPreferences(chosen, id: user.id, at: Self.t0)
            try await store.setPreferences(chosen, id: user.id, at: Self.t0)
            #expect(try await store.preferences(id: user.id) == chosen)
            await #expect(throws: UserError.notFound(id: 999)) { try await store.preferences(id: 999) }
            try await store.delete(id: user.id, at: Self.t0)
            await #expect(throws: UserError.notFound(id: user.id)) { try await store.preferences(id: user.id) }
        }
    }

    @Test(arguments: kinds)
    func bootstrappingAnAdminCreatesButPromotesOnlyWhenAskedAndThenEndsEverySession(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { store, sessions, user in
            let token = RefreshToken.generate()
            #expect(try await sessions.start(token, for: user, passwordHash: "x", at: Self.t0))
            let ada = NewUser(email: try EmailAddress("ADA@example.com"), name: try PersonName("Ada"), role: .admin)
            guard case .exists(let existing) = try await store.bootstrapAdmin(ada, passwordHash: nil, promoteExisting: false, at: Self.t0) else {
                Issue.record("an account anyone could have registered must not be promoted unasked")
                return
            }
            #expect(existing.id == user.id && existing.role == .customer)
            #expect(try await store.find(id: user.id)?.role == .customer)
            guard
                case .promoted(let promoted, let previous) = try await store.bootstrapAdmin(
                    ada,
                    passwordHash: nil,
                    promoteExisting: true,
                    at: Self.t0
                )
            else {
                Issue.record("asked to promote, it must promote")
                return
            }
            #expect(promoted.id == user.id && promoted.role == .admin && previous == .customer)
            #expect(try await store.passwordHash(id: user.id) == "x")
            if case .rotated = try await sessions.rotate(token, to: RefreshToken.generate(), at: Self.t0) {
                Issue.record("the registrant's session must not survive into an admin session")
            }
            let root = NewUser(email: try EmailAddress("root@example.com"), name: try PersonName("Root"), role: .admin)
            guard case .needsPassword = try await store.bootstrapAdmin(root, passwordHash: nil, promoteExisting: false, at: Self.t0) else {
                Issue.record("a new admin needs a password")
                return
            }
            guard case .created(let fresh) = try await store.bootstrapAdmin(root, passwordHash: "h", promoteExisting: false, at: Self.t0) else {
                Issue.record("a new address makes a new admin")
                return
            }
            #expect(fresh.role == .admin)
            #expect(try await store.credentials(email: try EmailAddress("root@example.com"))?.passwordHash == "h")
        }
    }

    @Test(arguments: kinds)
    func aLoginThatReadTheAccountBeforeItChangedStartsNoSession(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { _, sessions, user in
            // What the login read: another password hash, or another role, than the row has now.
            let staleHash = try await sessions.start(RefreshToken.generate(), for: user, passwordHash: "before the change", at: Self.t0)
            var demoted = user
            demoted.role = .admin
            let staleRole = try await sessions.start(RefreshToken.generate(), for: demoted, passwordHash: "x", at: Self.t0)
            let current = try await sessions.start(RefreshToken.generate(), for: user, passwordHash: "x", at: Self.t0)
            #expect(!staleHash && !staleRole && current)
        }
    }

    @Test(arguments: kinds)
    func aSessionEndsAtItsAbsoluteLifetimeHoweverOftenItRotates(_ kind: DatabaseKind) async throws {
        try await withStores(kind) { _, sessions, user in
            var token = RefreshToken.generate()
            #expect(try await sessions.start(token, for: user, passwordHash: "x", at: Self.t0))
            // Rotating every 20 days keeps each token fresh, but not the session past 90 days.
            for day in stride(from: 20, through: 80, by: 20) {
                let next = RefreshToken.generate()
                guard case .rotated = try await sessions.rotate(token, to: next, at: Self.t0.addingTimeInterval(Double(day) * 86_400)) else {
                    Issue.record("day \(day): a fresh token of a young session must rotate")
                    return
                }
                token = next
            }
            guard case .invalid = try await sessions.rotate(token, to: RefreshToken.generate(), at: Self.t0.addingTimeInterval(91 * 86_400)) else {
                Issue.record("a session older than its absolute lifetime must end")
                return
            }
        }
    }
}
