import Foundation
import Testing

/// `Idempotency-Key` on `POST /api/v1/users`, over real HTTP.
@Suite struct IdempotencyEndToEndTests {
    private func total(_ shop: RunningShop) async throws -> Int64? {
        // Not counting the admin the tests sign in as.
        try await shop.request(.GET, "/api/v1/users?per_page=1").json?["meta"]?["total"]?.integer.map { $0 - 1 }
    }

    @Test func aRetryWithTheSameKeyReplaysTheFirstResponseByteForByte() async throws {
        try await TestServer.with { shop in
            let body = #"{"email":"once@example.com","name":"Once","password":"correct horse battery staple"}"#
            let first = try await shop.request(.POST, "/api/v1/users", headers: [("Idempotency-Key", "k-1")], json: body)
            let retry = try await shop.request(.POST, "/api/v1/users", headers: [("Idempotency-Key", "k-1")], json: body)
            #expect(first.status == 201)
            #expect(retry.status == 201)
            #expect(retry.body == first.body)
            #expect(retry.header("Location") == first.header("Location"))
            #expect(retry.header("Idempotent-Replayed") == "true")
            #expect(first.header("Idempotent-Replayed") == nil)
            #expect(retry.header("X-Request-ID") != first.header("X-Request-ID"))
            #expect(try await total(shop) == 1)
        }
    }

    @Test func theSameKeyWithAnotherBodyIsAConflictAndWritesNothing() async throws {
        try await TestServer.with { shop in
            _ = try await shop.request(
                .POST,
                "/api/v1/users",
                headers: [("Idempotency-Key", "k-2")],
                json: #"{"email":"a@example.com","name":"A","password":"correct horse battery staple"}"#
            )
            let other = try await shop.request(
                .POST,
                "/api/v1/users",
                headers: [("Idempotency-Key", "k-2")],
                json: #"{"email":"b@example.com","name":"B","password":"correct horse battery staple"}"#
            )
            #expect(other.status == 409)
            #expect(other.json?["error"]?["code"]?.string == "CONFLICT")
            #expect(other.json?["error"]?["field"]?.string == "Idempotency-Key")
            #expect(try await total(shop) == 1)
        }
    }

    @Test func aFailedFirstAttemptIsReplayedToo() async throws {
        try await TestServer.with { shop in
            let body = #"{"email":"broken","name":"X","password":"correct horse battery staple"}"#
            let first = try await shop.request(.POST, "/api/v1/users", headers: [("Idempotency-Key", "k-3")], json: body)
            let retry = try await shop.request(.POST, "/api/v1/users", headers: [("Idempotency-Key", "k-3")], json: body)
            #expect(first.status == 422)
            #expect(retry.status == 422)
            #expect(retry.body == first.body)
        }
    }

    @Test func concurrentRetriesNeverCreateTwice() async throws {
        try await TestServer.with { shop in
            let body = #"{"email":"storm@example.com","name":"Storm","password":"correct horse battery staple"}"#
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<12 {
                    group.addTask {
                        try await shop.request(.POST, "/api/v1/users", headers: [("Idempotency-Key", "storm")], json: body).status
                    }
                }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(statuses.allSatisfy { $0 == 201 || $0 == 409 }, "\(statuses)")
            #expect(statuses.contains(201))
            #expect(try await total(shop) == 1)
        }
    }

    @Test func anUnacceptableKeyIsRefused() async throws {
        try await TestServer.with { shop in
            let long = String(repeating: "k", count: 256)
            let result = try await shop.request(
                .POST,
                "/api/v1/users",
                headers: [("Idempotency-Key", long)],
                json: #"{"email":"a@example.com","name":"A","password":"correct horse battery staple"}"#
            )
            #expect(result.status == 422)
            #expect(result.json?["error"]?["field"]?.string == "Idempotency-Key")
            #expect(try await total(shop) == 0)
        }
    }
}
