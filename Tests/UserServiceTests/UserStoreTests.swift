import Foundation
import Platform
import TestSupport
import Testing

@testable import UserService

/// The store against real SQLite and PostgreSQL (when `SHOP_TEST_DATABASE_URL` is set).
@Suite struct UserStoreTests {
    static let kinds = TestDatabases.kinds()

    private func withStore(_ kind: DatabaseKind, _ body: @Sendable (UserStore) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(UserService.migrations, logger: TestDatabases.logger).migrate(database)
            try await body(UserStore(database: database))
        }
    }

    private func newUser(_ email: String, _ name: String = "Someone") throws -> NewUser {
        NewUser(email: try EmailAddress(email), name: try PersonName(name))
    }

    private static let t0 = Date(microsecondsSince1970: 1_764_065_700_000_000)

    @Test(arguments: kinds)
    func aCreatedUserIsFoundWithItsFields(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let created = try await store.create(try newUser("Ada@Example.com", "Ada"), passwordHash: nil, at: Self.t0)
            #expect(created.id > 0)
            let found = try #require(try await store.find(id: created.id))
            #expect(found == created)
            #expect(found.email.value == "Ada@Example.com")
            #expect(found.createdAt == Self.t0)
            #expect(try await store.find(id: created.id + 1000) == nil)
        }
    }

    /// Reads by id at once, on PostgreSQL in shared queries: each gets its own user (none for a
    /// deleted or unknown id), and a change is read by the next read after it.
    @Test(arguments: kinds)
    func concurrentReadsByIDEachGetTheirOwnUserAndTheLatest(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            var created: [Int64] = []
            for index in 0..<30 {
                created.append(try await store.create(try newUser("reader\(index)@example.com"), passwordHash: nil, at: Self.t0).id)
            }
            let ids = created
            try await store.delete(id: ids[0], at: Self.t0)
            let answers = try await withThrowingTaskGroup(of: (Int64, String?).self) { group in
                for read in 0..<300 {
                    let id = read % 40 == 39 ? 999_999 : ids[read % 30]
                    group.addTask { (id, try await store.find(id: id)?.email.value) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(answers.count == 300)
            for (id, email) in answers {
                if id == ids[0] || id == 999_999 {
                    #expect(email == nil, "user \(id)")
                } else {
                    #expect(email == "reader\(ids.firstIndex(of: id)!)@example.com")
                }
            }
            if kind == .postgres { #expect(store.byID != nil, "PostgreSQL reads by id in rounds") }
            // Reads keep the rounds busy while one user is renamed again and again: each read
            // after a rename shows it.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask { for _ in 0..<40 { _ = try await store.find(id: ids[2]) } }
                }
                for round in 1...10 {
                    _ = try await store.update(id: ids[1], with: UserChanges(name: try PersonName("Name \(round)")), at: Self.t0)
                    #expect(try await store.find(id: ids[1])?.name.value == "Name \(round)")
                }
                try await group.waitForAll()
            }
        }
    }

    /// Pages read at once (on PostgreSQL sharing readings of the same page) are each the
    /// page asked for, and a user registered before a read is on it.
    @Test(arguments: kinds)
    func concurrentPageReadsEachGetTheirPageAndTheLatest(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            for index in 0..<12 { _ = try await store.create(try newUser("page\(index)@example.com"), passwordHash: nil, at: Self.t0) }
            let sort = SortOrder<UserSortField>(.createdAt)
            let pages = try await withThrowingTaskGroup(of: (Int, [String]).self) { group in
                for read in 0..<120 {
                    let number = read % 3 + 1
                    group.addTask {
                        let page = try await store.list(ListQuery(pagination: .page(number: number, perPage: 5), sort: sort), email: nil)
                        return (number, page.items.map(\.email.value))
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            for (number, emails) in pages {
                #expect(emails == (0..<12).map { "page\($0)@example.com" }.dropFirst((number - 1) * 5).prefix(5).map { $0 })
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<6 {
                    group.addTask {
                        for _ in 0..<30 { _ = try await store.list(ListQuery(pagination: .page(number: 1, perPage: 20), sort: sort), email: nil) }
                    }
                }
                for added in 12..<17 {
                    _ = try await store.create(
                        try newUser("page\(added)@example.com"),
                        passwordHash: nil,
                        at: Self.t0.addingTimeInterval(Double(added))
                    )
                    let page = try await store.list(ListQuery(pagination: .page(number: 1, perPage: 20), sort: sort), email: nil)
                    #expect(page.items.last?.email.value == "page\(added)@example.com")
                    #expect(page.items.count == added + 1)
                }
                try await group.waitForAll()
            }
        }
    }

    @Test(arguments: kinds)
    func aDuplicateEmailInAnyCaseIsRefused(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.create(try newUser("ada@example.com"), passwordHash: nil, at: Self.t0)
            await #expect(throws: UserError.emailTaken) {
                try await store.create(try newUser("ADA@example.COM"), passwordHash: nil, at: Self.t0)
            }
            let page = try await store.list(ListQuery(pagination: .page(number: 1, perPage: 10), sort: SortOrder(.createdAt)), email: nil)
            #expect(page.items.count == 1)
        }
    }

    @Test(arguments: kinds)
    func concurrentRegistrationsOfOneEmailLetExactlyOneWin(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<20 {
                    group.addTask {
                        do {
                            _ = try await store.create(
                                try newUser(index.isMultiple(of: 2) ? "race@example.com" : "RACE@example.com"),
                                passwordHash: nil,
                                at: Self.t0
                            )
                            return true
                        } catch UserError.emailTaken {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 1)
        }
    }

    @Test(arguments: kinds)
    func updatesChangeOnlyWhatIsGivenAndGuardUniqueness(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let ada = try await store.create(try newUser("ada@example.com", "Ada"), passwordHash: nil, at: Self.t0)
            _ = try await store.create(try newUser("grace@example.com", "Grace"), passwordHash: nil, at: Self.t0)
            let later = Self.t0.addingTimeInterval(60)
            let renamed = try await store.update(id: ada.id, with: UserChanges(name: try PersonName("Ada L.")), at: later).user
            #expect(renamed.name.value == "Ada L.")
            #expect(renamed.email.value == "ada@example.com")
            #expect(renamed.updatedAt == later)
            #expect(try await store.find(id: ada.id) == renamed)
            await #expect(throws: UserError.emailTaken) {
                try await store.update(id: ada.id, with: UserChanges(email: try EmailAddress("Grace@example.com")), at: later)
            }
            #expect(try await store.find(id: ada.id)?.email.value == "ada@example.com")
            await #expect(throws: UserError.notFound(id: 999_999)) {
                try await store.update(id: 999_999, with: UserChanges(name: try PersonName("X")), at: later)
            }
        }
    }

    @Test(arguments: kinds)
    func aProfileEditRacingARoleChangeKeepsBoth(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            // Without the row lock, PostgreSQL let the edit write back the role it had read.
            for round in 0..<25 {
                let user = try await store.create(try newUser("racer\(round)@example.com", "Before"), passwordHash: nil, at: Self.t0)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { _ = try await store.update(id: user.id, with: UserChanges(name: try PersonName("After")), at: Self.t0) }
                    group.addTask { _ = try await store.update(id: user.id, with: UserChanges(role: .staff), at: Self.t0) }
                    try await group.waitForAll()
                }
                let final = try #require(try await store.find(id: user.id))
                #expect(final.role == .staff && final.name.value == "After", "round \(round): \(final)")
            }
        }
    }

    @Test(arguments: kinds)
    func aRoleChangeEndsTheUsersSessionsAndSaysSo(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let ada = try await store.create(try newUser("ada@example.com", "Ada"), passwordHash: nil, at: Self.t0)
            let sessions = SessionStore(database: store.database)
            let token = RefreshToken.generate()
            #expect(try await sessions.start(token, for: ada, passwordHash: nil, at: Self.t0))
            #expect(try await store.update(id: ada.id, with: UserChanges(name: try PersonName("Ada L.")), at: Self.t0).sessionsEnded == false)
            #expect(try await store.update(id: ada.id, with: UserChanges(role: .admin), at: Self.t0).sessionsEnded)
            if case .rotated = try await sessions.rotate(token, to: RefreshToken.generate(), at: Self.t0) {
                Issue.record("a refresh token from before a role change must not mint tokens with the new role")
            }
            let types = try await store.database.read { sql in
                try await sql.raw("SELECT type FROM outbox ORDER BY id").all().map { try $0.decode(column: "type", as: String.self) }
            }
            #expect(types.last == "user.sessions_ended")
        }
    }

    @Test(arguments: kinds)
    func deletingRemovesPersonalDataAndFreesTheEmail(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let ada = try await store.create(try newUser("ada@example.com", "Ada"), passwordHash: nil, at: Self.t0)
            try await store.delete(id: ada.id, at: Self.t0)
            #expect(try await store.find(id: ada.id) == nil)
            await #expect(throws: UserError.notFound(id: ada.id)) { try await store.delete(id: ada.id, at: Self.t0) }
            let again = try await store.create(try newUser("ada@example.com", "Ada again"), passwordHash: nil, at: Self.t0)
            #expect(again.id != ada.id)
            let leftovers = try await store.database.read { sql in
                try await sql.raw("SELECT email, name FROM users WHERE id = \(bind: ada.id)").first()
            }
            let row = try #require(leftovers)
            #expect(try row.decodeNil(column: "email"))
            #expect(try row.decodeNil(column: "name"))
        }
    }

    @Test(arguments: kinds)
    func pagesAndCursorsWalkTheSameOrderWithoutGapsOrRepeats(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            var created: [Int64] = []
            for index in 0..<23 {
                // Pairs share a timestamp so the id must break the tie.
                let user = try await store.create(
                    try newUser("u\(index)@example.com"),
                    passwordHash: nil,
                    at: Self.t0.addingTimeInterval(Double(index / 2))
                )
                created.append(user.id)
            }
            for descending in [false, true] {
                let sort = SortOrder(UserSortField.createdAt, descending: descending)
                let expected = descending ? Array(created.reversed()) : created
                var paged: [Int64] = []
                for number in 1...3 {
                    let page = try await store.list(ListQuery(pagination: .page(number: number, perPage: 10), sort: sort), email: nil)
                    guard case .page(let items, _, _, let total) = page else {
                        Issue.record("not a page")
                        return
                    }
                    #expect(total == 23)
                    paged += items.map(\.id)
                }
                #expect(paged == expected)
                var cursor: Cursor?
                var walked: [Int64] = []
                repeat {
                    let page = try await store.list(ListQuery(pagination: .cursor(cursor, perPage: 7), sort: sort), email: nil)
                    guard case .cursor(let items, _, let next) = page else {
                        Issue.record("not a cursor page")
                        return
                    }
                    walked += items.map(\.id)
                    cursor = next
                } while cursor != nil
                #expect(walked == expected)
            }
        }
    }

    @Test(arguments: kinds)
    func theEmailFilterFindsOneUserWhateverTheCase(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            _ = try await store.create(try newUser("ada@example.com"), passwordHash: nil, at: Self.t0)
            let grace = try await store.create(try newUser("grace@example.com"), passwordHash: nil, at: Self.t0)
            let page = try await store.list(
                ListQuery(pagination: .page(number: 1, perPage: 20), sort: SortOrder(.createdAt)),
                email: try EmailAddress("GRACE@example.com")
            )
            #expect(page.items.map(\.id) == [grace.id])
        }
    }
}
