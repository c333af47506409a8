import Foundation
import Platform
import Redis
import TestSupport
import Testing

@testable import shop

/// The Users API through the gateway, over real HTTP, on the embedded default.
@Suite struct UsersEndToEndTests {
    /// The users a test registered: all of them but the admin the tests sign in as.
    private func userCount(_ shop: RunningShop) async throws -> Int64 {
        let result = try await shop.request(.GET, "/api/v1/users?per_page=1")
        return try #require(result.json?["meta"]?["total"]?.integer) - 1
    }

    @Test func aUserCanBeCreatedReadUpdatedListedAndDeleted() async throws {
        try await TestServer.with { shop in
            let created = try await shop.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"Ada@Example.com","name":"Ada","password":"correct horse battery staple"}"#
            )
            #expect(created.status == 201)
            let id = try #require(created.json?["data"]?["id"]?.integer)
            #expect(created.header("Location") == "/api/v1/users/\(id)")
            #expect(created.header("Cache-Control") == "private, no-store")
            #expect(created.json?["errors"] == .array([]))
            #expect(created.json?["meta"] == .object([:]))
            #expect(created.json?["data"]?["email"]?.string == "Ada@Example.com")

            let read = try await shop.request(.GET, "/api/v1/users/\(id)")
            #expect(read.status == 200)
            #expect(read.json?["data"] == created.json?["data"])

            let patched = try await shop.request(.PATCH, "/api/v1/users/\(id)", json: #"{"name":"Ada Lovelace"}"#)
            #expect(patched.status == 200)
            #expect(patched.json?["data"]?["name"]?.string == "Ada Lovelace")
            #expect(patched.json?["data"]?["email"]?.string == "Ada@Example.com")

            let listed = try await shop.request(.GET, "/api/v1/users?email=ada@example.com")
            #expect(listed.json?["data"]?[0]?["id"]?.integer == id)
            #expect(
                listed.json?["meta"] == .object(["page": .integer(1), "per_page": .integer(20), "total": .integer(1), "total_pages": .integer(1)])
            )

            let deleted = try await shop.request(.DELETE, "/api/v1/users/\(id)")
            #expect(deleted.status == 204)
            #expect(deleted.body.isEmpty)
            #expect(try await shop.request(.GET, "/api/v1/users/\(id)").status == 404)
            #expect(try await shop.request(.DELETE, "/api/v1/users/\(id)").status == 404)
            let again = try await shop.createUser("ada@example.com")
            #expect(again != id)
        }
    }

    @Test func aDuplicateEmailGetsExactlyTheDocumentedError() async throws {
        try await TestServer.with { shop in
            _ = try await shop.createUser("ada@example.com")
            let result = try await shop.request(
                .POST,
                "/api/v1/users",
                headers: [("X-Request-ID", "dup-check-1")],
                json: #"{"email":"ADA@example.com","name":"Another Ada","password":"correct horse battery staple"}"#
            )
            #expect(result.status == 422)
            #expect(result.header("X-Request-ID") == "dup-check-1")
            let expected = JSONValue.object([
                "error": .object([
                    "code": .string("VALIDATION_ERROR"), "message": .string("Email address already exists"),
                    "field": .string("email"), "request_id": .string("dup-check-1"),
                ]),
                "errors": .array([
                    .object(["code": .string("VALIDATION_ERROR"), "message": .string("Email address already exists"), "field": .string("email")])
                ]),
            ])
            #expect(result.json == expected)
            #expect(try await userCount(shop) == 1)
        }
    }

    @Test func everyInvalidFieldIsReportedAtOnce() async throws {
        try await TestServer.with { shop in
            let result = try await shop.request(
                .POST,
                "/api/v1/users",
                json: #"{"email":"not-an-email","name":"   ","password":"correct horse battery staple"}"#
            )
            #expect(result.status == 422)
            let fields = result.json?["errors"]?.array?.compactMap { $0["field"]?.string }
            #expect(fields == ["email", "name"])
            let missing = try await shop.request(.POST, "/api/v1/users", json: "{}")
            #expect(missing.json?["errors"]?.array?.compactMap { $0["field"]?.string } == ["email", "name", "password"])
        }
    }

    /// Each bad request gets its documented status and code, and writes nothing.
    @Test func badInputGetsItsDocumentedErrorAndChangesNothing() async throws {
        try await TestServer.with { shop in
            let id = try await shop.createUser("keep@example.com", name: "Keeper")
            let before = try await shop.request(.GET, "/api/v1/users/\(id)")
            let oversize = "{\"name\":\"" + String(repeating: "x", count: JSONBody.maxBytes) + "\"}"
            let cases: [(String, HTTPResult, Int, String, String?)] = [
                ("malformed JSON", try await shop.request(.POST, "/api/v1/users", json: #"{"email": "#), 400, "MALFORMED_REQUEST", nil),
                ("not an object", try await shop.request(.POST, "/api/v1/users", json: "[1,2]"), 400, "MALFORMED_REQUEST", nil),
                (
                    "wrong content type",
                    try await shop.request(
                        .POST,
                        "/api/v1/users",
                        headers: [("Content-Type", "text/plain")],
                        json: #"{"email":"a@b.co","name":"A","password":"correct horse battery staple"}"#
                    ), 400, "MALFORMED_REQUEST", nil
                ),
                (
                    "no body", try await shop.request(.POST, "/api/v1/users", headers: [("Content-Type", "application/json")]), 400,
                    "MALFORMED_REQUEST", nil
                ),
                (
                    "unknown field",
                    try await shop.request(
                        .POST,
                        "/api/v1/users",
                        json: #"{"email":"new@example.com","name":"N","password":"correct horse battery staple","rolee":"admin"}"#
                    ), 422, "VALIDATION_ERROR", "rolee"
                ),
                (
                    "wrong type",
                    try await shop.request(.POST, "/api/v1/users", json: #"{"email":42,"name":"N","password":"correct horse battery staple"}"#), 422,
                    "VALIDATION_ERROR", "email"
                ),
                ("oversize body", try await shop.request(.POST, "/api/v1/users", json: oversize), 413, "PAYLOAD_TOO_LARGE", nil),
                (
                    "patch unknown field", try await shop.request(.PATCH, "/api/v1/users/\(id)", json: #"{"nmae":"X"}"#), 422, "VALIDATION_ERROR",
                    "nmae"
                ),
                ("patch null", try await shop.request(.PATCH, "/api/v1/users/\(id)", json: #"{"name":null}"#), 422, "VALIDATION_ERROR", "name"),
                (
                    "patch invalid email", try await shop.request(.PATCH, "/api/v1/users/\(id)", json: #"{"email":"x@"}"#), 422, "VALIDATION_ERROR",
                    "email"
                ),
                ("patch oversize", try await shop.request(.PATCH, "/api/v1/users/\(id)", json: oversize), 413, "PAYLOAD_TOO_LARGE", nil),
                ("id not a number", try await shop.request(.GET, "/api/v1/users/abc"), 422, "VALIDATION_ERROR", "id"),
                ("id zero", try await shop.request(.PATCH, "/api/v1/users/0", json: #"{"name":"X"}"#), 422, "VALIDATION_ERROR", "id"),
                ("id too large", try await shop.request(.DELETE, "/api/v1/users/99999999999999999999"), 422, "VALIDATION_ERROR", "id"),
                ("unknown id", try await shop.request(.GET, "/api/v1/users/987654"), 404, "NOT_FOUND", nil),
                ("page zero", try await shop.request(.GET, "/api/v1/users?page=0"), 422, "VALIDATION_ERROR", "page"),
                ("per_page over cap", try await shop.request(.GET, "/api/v1/users?per_page=101"), 422, "VALIDATION_ERROR", "per_page"),
                ("invalid sort", try await shop.request(.GET, "/api/v1/users?sort=email"), 422, "VALIDATION_ERROR", "sort"),
                ("unknown parameter", try await shop.request(.GET, "/api/v1/users?rolee=admin"), 422, "VALIDATION_ERROR", "rolee"),
                ("bad cursor", try await shop.request(.GET, "/api/v1/users?cursor=xyz"), 422, "VALIDATION_ERROR", "cursor"),
                ("invalid email filter", try await shop.request(.GET, "/api/v1/users?email=nope"), 422, "VALIDATION_ERROR", "email"),
                ("unknown route", try await shop.request(.GET, "/api/v1/nothing"), 404, "NOT_FOUND", nil),
                ("unknown method", try await shop.request(.PUT, "/api/v1/users/\(id)", json: "{}"), 405, "METHOD_NOT_ALLOWED", nil),
            ]
            for (name, result, status, code, field) in cases {
                #expect(result.status == status, "\(name)")
                #expect(result.json?["error"]?["code"]?.string == code, "\(name)")
                #expect(result.json?["error"]?["field"]?.string == field, "\(name)")
                #expect(result.json?["error"]?["request_id"]?.string == result.header("X-Request-ID"), "\(name)")
            }
            #expect(try await userCount(shop) == 1)
            let after = try await shop.request(.GET, "/api/v1/users/\(id)")
            #expect(after.json?["data"] == before.json?["data"])
        }
    }

    @Test func pagesAndCursorsWalkEveryUserOnceWithLinks() async throws {
        try await TestServer.with { shop in
            var ids: [Int64] = []
            for index in 0..<7 { ids.append(try await shop.createUser("walker\(index)@example.com")) }

            var seen: [Int64] = []
            var path: String? = "/api/v1/users?per_page=3&sort=-created_at"
            while let next = path {
                let page = try await shop.request(.GET, next)
                #expect(page.status == 200)
                seen += page.json?["data"]?.array?.compactMap { $0["id"]?.integer } ?? []
                path = page.header("Link").flatMap(Self.nextLink)
            }
            // The admin the tests sign in as was registered first.
            #expect(seen.count == ids.count + 1)
            #expect(seen.filter(ids.contains) == ids.reversed())

            seen = []
            path = "/api/v1/users?per_page=3&cursor="
            var pages = 0
            while let next = path {
                let page = try await shop.request(.GET, next)
                #expect(page.json?["meta"]?["total"] == nil)
                seen += page.json?["data"]?.array?.compactMap { $0["id"]?.integer } ?? []
                path = page.header("Link").flatMap(Self.nextLink)
                pages += 1
                if let cursor = page.json?["meta"]?["next_cursor"]?.string {
                    #expect(path?.contains(cursor) == true)
                } else {
                    #expect(page.json?["meta"]?["next_cursor"] == .null)
                }
            }
            #expect(seen.count == ids.count + 1)
            #expect(seen.filter(ids.contains) == ids)
            #expect(pages == 3)

            let beyond = try await shop.request(.GET, "/api/v1/users?page=9&per_page=3")
            #expect(beyond.status == 200)
            #expect(beyond.json?["data"] == .array([]))
            #expect(beyond.json?["meta"]?["total_pages"]?.integer == 3)
        }
    }

    @Test func healthAndTheContractAreServed() async throws {
        try await TestServer.with { shop in
            #expect(try await shop.request(.GET, "/health/live").status == 200)
            let ready = try await shop.request(.GET, "/health/ready")
            #expect(ready.status == 200)
            #expect(ready.json?["data"]?["checks"]?[0]?["name"]?.string == "users database")
            let document = try await shop.request(.GET, "/api/v1/openapi.json")
            #expect(document.status == 200)
            #expect(document.json?["openapi"]?.string == "3.1.0")
        }
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func theUsersServiceAloneRunsOnPostgreSQL() async throws {
        let redis = try RedisServer()
        try await TestDatabases.withPostgresURL { url in
            try await TestServer.with(service: .users, usersDatabaseURL: url, environment: ["REDIS_URL": "redis://127.0.0.1:\(redis.port)"]) { shop in
                let id = try await shop.createUser("pg@example.com")
                #expect(try await shop.request(.GET, "/api/v1/users/\(id)").status == 200)
                let duplicate = try await shop.request(
                    .POST,
                    "/api/v1/users",
                    json: #"{"email":"PG@example.com","name":"Twin","password":"correct horse battery staple"}"#
                )
                #expect(duplicate.json?["error"]?["message"]?.string == "Email address already exists")
                let ready = try await shop.request(.GET, "/health/ready")
                #expect(ready.status == 200)
            }
        }
    }

    /// Two instances of Users alone on one PostgreSQL database and one Redis: each keeps
    /// whole answers (a user, a page of the list), and a write on one instance is on the
    /// very next read on the other. A change made behind the count's back (straight in the
    /// database) is not seen at once, which shows that the answers are kept, but within the
    /// second in which the shared count catches up with the database's own count.
    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func aChangeOnOneUsersInstanceIsOnTheNextReadOnAnother() async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let environment = ["REDIS_URL": "redis://127.0.0.1:\(redis.port)", "JWT_SIGNING_KEYS_FILE": keys]
        try await TestDatabases.withPostgresURL { url in
            try await TestServer.with(service: .users, usersDatabaseURL: url, environment: environment) { first in
                try await TestServer.with(service: .users, usersDatabaseURL: url, environment: environment) { second in
                    let id = try await first.createUser("kept@example.com", name: "Ada")
                    func name(_ shop: RunningShop) async throws -> String? {
                        try await shop.request(.GET, "/api/v1/users/\(id)").json?["data"]?["name"]?.string
                    }
                    func listed(_ shop: RunningShop) async throws -> (total: Int64?, names: [String]) {
                        let page = try await shop.request(.GET, "/api/v1/users?per_page=100").json
                        return (page?["meta"]?["total"]?.integer, page?["data"]?.array?.compactMap { $0["name"]?.string } ?? [])
                    }
                    #expect(try await name(second) == "Ada")
                    let before = try await listed(second)
                    #expect(before.names.contains("Ada"))

                    // Behind the count's back (straight in the database): the kept answers
                    // stay as they were. The services' own background writes (the outbox
                    // relay, the audit trail) move the count too; a try they interrupt is
                    // made again.
                    let counter = RedisClient(.init(url: RedisURL(host: "127.0.0.1", port: redis.port)), logger: .init(label: "test"))
                    defer { counter.shutdown() }
                    func writes() async throws -> String? {
                        try await counter.send([RESPArgument("GET"), RESPArgument("shop:users:writes")]).string
                    }
                    let database = PostgresDatabase(url: url, maxConnections: 1, logger: TestDatabases.logger)
                    var keptThrough: Int?
                    try await database.withRunning {
                        for attempt in 0..<20 where keptThrough == nil {
                            let counted = try await writes()
                            let shown = try await name(second)
                            let pageShown = try await listed(second).names
                            try await database.transaction { sql in
                                try await sql.raw("UPDATE users SET name = \(bind: "Behind \(attempt)") WHERE id = \(bind: id)").run()
                            }
                            let again = try await name(second)
                            let page = try await listed(second).names
                            guard try await writes() == counted else {
                                try await Task.sleep(for: .milliseconds(200))
                                continue
                            }
                            #expect(again == shown, "kept: no counted write since")
                            #expect(page == pageShown, "the page kept too")
                            keptThrough = attempt
                        }
                    }
                    #expect(keptThrough != nil, "some try ran with no counted write in it")

                    // The database counted that change itself: the shared count catches up with
                    // it within a second, and what was kept ends (its age is minutes).
                    let behind = "Behind \(keptThrough ?? -1)"
                    let clock = ContinuousClock()
                    let changed = clock.now
                    var shownNow: String?
                    var listedNow = false
                    while clock.now - changed < .seconds(10) {
                        shownNow = try await name(second)
                        listedNow = try await listed(second).names.contains(behind)
                        if shownNow == behind, listedNow { break }
                        try await Task.sleep(for: .milliseconds(100))
                    }
                    #expect(shownNow == behind)
                    #expect(listedNow)

                    // A rename through the first instance: on the second's very next reads.
                    let renamed = try await first.request(.PATCH, "/api/v1/users/\(id)", json: #"{"name":"Grace"}"#)
                    #expect(renamed.status == 200)
                    #expect(try await name(second) == "Grace")
                    #expect(try await listed(second).names.contains("Grace"))
                    // A new user through the first: on the second's next page, and counted.
                    _ = try await first.createUser("new@example.com", name: "Newcomer")
                    let after = try await listed(second)
                    #expect(after.names.contains("Newcomer"))
                    #expect(after.total == before.total.map { $0 + 1 })
                    // Deleted through the first: gone from the second at once.
                    #expect(try await first.request(.DELETE, "/api/v1/users/\(id)").status == 204)
                    #expect(try await second.request(.GET, "/api/v1/users/\(id)").status == 404)
                    #expect(try await !listed(second).names.contains("Grace"))
                }
            }
        }
    }

    /// `<path>; rel="next"` from a Link header.
    static func nextLink(_ header: String) -> String? {
        for part in header.split(separator: ",") where part.contains(#"rel="next""#) {
            guard let start = part.firstIndex(of: "<"), let end = part.firstIndex(of: ">") else { continue }
            return String(part[part.index(after: start)..<end])
        }
        return nil
    }
}
