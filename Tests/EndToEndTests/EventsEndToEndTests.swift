import Foundation
import Platform
import TestSupport
import Testing

/// Account events through the outbox, the relay and the bus into the audit trail, over
/// real HTTP on the embedded default.
@Suite struct EventsEndToEndTests {
    /// The audit entries of `userID`, once there are at least `count`.
    private func auditEntries(_ admin: RunningShop, userID: Int64, count: Int) async throws -> [JSONValue] {
        for _ in 0..<250 {
            let page = try await admin.request(.GET, "/api/v1/audit-events?user_id=\(userID)&sort=id")
            let entries = page.json?["data"]?.array ?? []
            if entries.count >= count { return entries }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw UnexpectedResponse(result: try await admin.request(.GET, "/api/v1/audit-events?user_id=\(userID)"))
    }

    @Test(arguments: TestDatabases.kinds())
    func accountChangesReachTheAuditTrailWithTheirRequestIDs(_ engine: DatabaseKind) async throws {
        try await TestServer.with(engine: engine) { admin in
            let registered = try await admin.anonymous.request(
                .POST,
                "/api/v1/users",
                headers: [("X-Request-ID", "register-ada")],
                json: #"{"email":"ada@example.com","name":"Ada","password":"\#(RunningShop.password)"}"#
            )
            let id = try #require(registered.json?["data"]?["id"]?.integer)
            _ = try await admin.request(.PATCH, "/api/v1/users/\(id)", headers: [("X-Request-ID", "rename-ada")], json: #"{"name":"Ada L."}"#)
            _ = try await admin.request(.PATCH, "/api/v1/users/\(id)", json: #"{"name":"Ada L."}"#)
            // Failed logins are written at once, events once relayed: let the events land first.
            _ = try await auditEntries(admin, userID: id, count: 2)
            let wrong = try await admin.anonymous.request(
                .POST,
                "/api/v1/auth/token",
                headers: [("X-Request-ID", "guess-ada")],
                json: #"{"email":"ada@example.com","password":"a wrong guess"}"#
            )
            #expect(wrong.status == 401)
            _ = try await admin.request(.DELETE, "/api/v1/users/\(id)", headers: [("X-Request-ID", "forget-ada")])

            let entries = try await auditEntries(admin, userID: id, count: 5)
            #expect(
                entries.compactMap { $0["type"]?.string }
                    == ["user.registered", "user.updated", "user.login_failed", "user.sessions_ended", "user.deleted"],
                "a change that changed nothing is no event"
            )
            #expect(entries.compactMap { $0["request_id"]?.string } == ["register-ada", "rename-ada", "guess-ada", "forget-ada", "forget-ada"])
            #expect(entries[1]["changed"] == .array([.string("name")]))
            #expect(entries[3]["changed"] == .array([.string("deleted")]))
            let adminID = try #require(try await admin.request(.GET, "/api/v1/users/me").json?["data"]?["id"]?.integer)
            #expect(entries[0]["actor_id"] == nil, "an anonymous registration has no actor")
            #expect(entries[1]["actor_id"]?.integer == adminID && entries[4]["actor_id"]?.integer == adminID, "the admin who acted is named")
            #expect(entries.allSatisfy { $0["event_id"]?.string?.isEmpty == false })
            let text = try await admin.request(.GET, "/api/v1/audit-events?user_id=\(id)").body
            #expect(!String(decoding: text, as: UTF8.self).contains("ada@example.com"), "the trail keeps no personal data")

            let customer = try await admin.customer("grace@example.com").shop
            #expect(try await customer.request(.GET, "/api/v1/audit-events").status == 403)
        }
    }

    /// The same path with `REDIS_URL`: the relay publishes to Redis Streams and the audit
    /// consumer reads them as a consumer group.
    @Test(.enabled(if: RedisServer.available))
    func onRedisStreamsTheAuditTrailFillsThroughAConsumerGroup() async throws {
        let redis = try RedisServer()
        try await TestServer.with(environment: ["REDIS_URL": "redis://127.0.0.1:\(redis.port)"]) { admin in
            let id = try await admin.createUser("ada@example.com")
            _ = try await admin.request(.PATCH, "/api/v1/users/\(id)", json: #"{"role":"staff"}"#)
            let entries = try await auditEntries(admin, userID: id, count: 3)
            // A stream per event type: entries of different types may land in any order.
            #expect(Set(entries.compactMap { $0["type"]?.string }) == ["user.registered", "user.updated", "user.sessions_ended"])
            #expect(entries.first { $0["type"]?.string == "user.updated" }?["changed"] == .array([.string("role")]))
        }
    }
}
