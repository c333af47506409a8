import Foundation
import Testing

/// All-in-one the users list keeps its total between writes: a registration or a deletion
/// is in the very next page's total.
@Suite struct UsersListTotalTests {
    @Test func theTotalFollowsEveryRegistrationAndDeletion() async throws {
        try await TestServer.with { admin in
            func total() async throws -> Int64? {
                try await admin.request(.GET, "/api/v1/users?page=1&per_page=5").json?["meta"]?["total"]?.integer
            }
            let before = try #require(try await total())
            #expect(try await total() == before, "read again: the same, kept")
            let ada = try await admin.createUser("ada-total@example.com", name: "Ada")
            #expect(try await total() == before + 1)
            #expect(try await total() == before + 1)
            _ = try await admin.createUser("grace-total@example.com", name: "Grace")
            #expect(try await total() == before + 2)
            #expect(try await admin.request(.DELETE, "/api/v1/users/\(ada)").status == 204)
            #expect(try await total() == before + 1)
            // A filtered list counts its own rows.
            let filtered = try await admin.request(.GET, "/api/v1/users?page=1&email=grace-total@example.com")
            #expect(filtered.json?["meta"]?["total"]?.integer == 1)
        }
    }
}
