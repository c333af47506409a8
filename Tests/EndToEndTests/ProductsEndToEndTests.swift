import Foundation
import Platform
import Redis
import TestSupport
import Testing

/// The catalog over real HTTP: staff change it, everyone reads it, caches revalidate.
@Suite struct ProductsEndToEndTests {
    @Test func staffCreateAndChangeProductsEveryoneReadsTheActiveOnes() async throws {
        try await TestServer.with { admin in
            let created = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"mug-1","name":"Mug","description":"Stoneware","price":{"amount":1200,"currency":"EUR"},"status":"active"}"#
            )
            #expect(created.status == 201)
            let id = try #require(created.json?["data"]?["id"]?.integer)
            #expect(created.json?["data"]?["sku"]?.string == "MUG-1")
            let draft = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"secret","name":"Secret","price":{"amount":1,"currency":"EUR"}}"#
            )
            let draftID = try #require(draft.json?["data"]?["id"]?.integer)
            _ = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"pot-1","name":"Pot","price":{"amount":3500,"currency":"EUR"},"status":"active"}"#
            )

            let customer = try await admin.customer("ada@example.com").shop
            let listed = try await customer.request(.GET, "/api/v1/products?sort=price")
            #expect(listed.json?["data"]?.array?.compactMap { $0["sku"]?.string } == ["MUG-1", "POT-1"])
            #expect(listed.header("Cache-Control") == "public, max-age=60")
            let cheap = try await customer.request(.GET, "/api/v1/products?max_price=2000")
            #expect(cheap.json?["data"]?.array?.count == 1)
            #expect(try await customer.request(.GET, "/api/v1/products/\(draftID)").status == 404, "drafts are for staff")
            #expect(try await admin.request(.GET, "/api/v1/products/\(draftID)").status == 200)
            #expect(try await customer.request(.PATCH, "/api/v1/products/\(id)", json: #"{"name":"X"}"#).status == 403)

            let read = try await customer.request(.GET, "/api/v1/products/\(id)")
            let etag = try #require(read.header("ETag"))
            let unchanged = try await customer.request(.GET, "/api/v1/products/\(id)", headers: [("If-None-Match", etag)])
            #expect(unchanged.status == 304)
            #expect(unchanged.body.isEmpty)

            let renamed = try await admin.request(.PATCH, "/api/v1/products/\(id)", headers: [("If-Match", etag)], json: #"{"name":"Big mug"}"#)
            #expect(renamed.status == 200)
            #expect(renamed.header("ETag") != etag)
            let stale = try await admin.request(.PATCH, "/api/v1/products/\(id)", headers: [("If-Match", etag)], json: #"{"name":"Lost update"}"#)
            #expect(stale.status == 409)
            #expect(stale.json?["error"]?["code"]?.string == "CONFLICT")
            let changed = try await customer.request(.GET, "/api/v1/products/\(id)", headers: [("If-None-Match", etag)])
            #expect(changed.status == 200)
            #expect(changed.json?["data"]?["name"]?.string == "Big mug")

            let stocked = try await admin.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":12,"reason":"delivery"}"#)
            #expect(stocked.json?["data"]?["available"]?.integer == 12)
            let tooMany = try await admin.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":-13,"reason":"count"}"#)
            #expect(tooMany.status == 409)
            #expect(try await customer.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 12)
        }
    }

    @Test func aCategoryListsTheProductsOfItsWholeSubtree() async throws {
        try await TestServer.with { admin in
            func category(_ slug: String, parent: Int64? = nil) async throws -> Int64 {
                let body = parent.map { #"{"slug":"\#(slug)","name":"\#(slug)","parent_id":\#($0)}"# } ?? #"{"slug":"\#(slug)","name":"\#(slug)"}"#
                let created = try await admin.request(.POST, "/api/v1/categories", json: body)
                return try #require(created.json?["data"]?["id"]?.integer)
            }
            let clothes = try await category("clothes")
            let shirts = try await category("shirts", parent: clothes)
            let linen = try await category("linen-shirts", parent: shirts)
            let kitchen = try await category("kitchen")
            for (sku, category) in [("shirt-1", linen), ("shirt-2", shirts), ("pan-1", kitchen)] {
                let created = try await admin.request(
                    .POST,
                    "/api/v1/products",
                    json: #"{"sku":"\#(sku)","name":"\#(sku)","price":{"amount":100,"currency":"EUR"},"status":"active","category_id":\#(category)}"#
                )
                #expect(created.status == 201)
            }
            let skus = { (category: Int64) async throws -> Set<String> in
                let page = try await admin.anonymous.request(.GET, "/api/v1/products?category_id=\(category)")
                return Set(page.json?["data"]?.array?.compactMap { $0["sku"]?.string } ?? [])
            }
            #expect(try await skus(clothes) == ["SHIRT-1", "SHIRT-2"])
            #expect(try await skus(linen) == ["SHIRT-1"])
            #expect(try await skus(kitchen) == ["PAN-1"])
            // Moving a category moves its products' place in every list, at once.
            let moved = try await admin.request(.PATCH, "/api/v1/categories/\(linen)", json: #"{"parent_id":\#(kitchen)}"#)
            #expect(moved.status == 200 && moved.json?["data"]?["parent_id"]?.integer == kitchen)
            #expect(try await skus(kitchen) == ["PAN-1", "SHIRT-1"])
            #expect(try await skus(clothes) == ["SHIRT-2"])
            let unknown = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"x-1","name":"x","price":{"amount":1,"currency":"EUR"},"category_id":999}"#
            )
            #expect(unknown.json?["error"]?["field"]?.string == "category_id")
            let tree = try await admin.anonymous.request(.GET, "/api/v1/categories")
            #expect(tree.json?["data"]?.array?.compactMap { $0["slug"]?.string }.first == "clothes")
            #expect(tree.json?["meta"]?["total"]?.integer == 4)
        }
    }
}

/// The server-side read cache: a staff change is the next read, in one process and on
/// every instance sharing Redis.
@Suite struct CatalogCacheEndToEndTests {
    private func name(_ shop: RunningShop, _ path: String) async throws -> String? {
        try await shop.request(.GET, path).json?["data"]?["name"]?.string
    }

    private func listedNames(_ shop: RunningShop) async throws -> [String] {
        try await shop.request(.GET, "/api/v1/products?sort=price").json?["data"]?.array?.compactMap { $0["name"]?.string } ?? []
    }

    /// An active product created through `shop` and read twice by `reader`, by its id and in
    /// the list, so that both answers are cached; its id.
    private func cachedProduct(_ shop: RunningShop, sku: String, name productName: String, reader: RunningShop) async throws -> Int64 {
        let created = try await shop.request(
            .POST,
            "/api/v1/products",
            json: #"{"sku":"\#(sku)","name":"\#(productName)","price":{"amount":500,"currency":"EUR"},"status":"active"}"#
        )
        let id = try #require(created.json?["data"]?["id"]?.integer)
        for _ in 0..<2 {
            #expect(try await name(reader, "/api/v1/products/\(id)") == productName)
            #expect(try await listedNames(reader) == [productName])
        }
        return id
    }

    @Test func aChangeIsTheNextReadAndStockIsAlwaysLive() async throws {
        try await TestServer.with { admin in
            let created = try await admin.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"cup-1","name":"Cup","price":{"amount":500,"currency":"EUR"},"status":"active"}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            let reader = admin.anonymous
            for _ in 0..<2 {
                #expect(try await name(reader, "/api/v1/products/\(id)") == "Cup")
                #expect(try await listedNames(reader) == ["Cup"])
            }
            _ = try await admin.request(.PATCH, "/api/v1/products/\(id)", json: #"{"name":"Tea cup"}"#)
            #expect(try await name(reader, "/api/v1/products/\(id)") == "Tea cup")
            #expect(try await name(reader, "/api/v1/products/by-slug/cup") == "Tea cup")
            #expect(try await listedNames(reader) == ["Tea cup"])
            _ = try await admin.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":7,"reason":"delivery"}"#)
            #expect(try await reader.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 7)
            #expect(try await reader.request(.GET, "/api/v1/products").json?["data"]?.array?.first?["available"]?.integer == 7)
            // Read again (all-in-one the figure is now kept in memory), then changed: the
            // next read has the change.
            #expect(try await reader.request(.GET, "/api/v1/products").json?["data"]?.array?.first?["available"]?.integer == 7)
            _ = try await admin.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":-2,"reason":"broken"}"#)
            #expect(try await reader.request(.GET, "/api/v1/products").json?["data"]?.array?.first?["available"]?.integer == 5)
            #expect(try await reader.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 5)
            _ = try await admin.request(.POST, "/api/v1/products/\(id)/archive")
            #expect(try await reader.request(.GET, "/api/v1/products/\(id)").status == 404)
            #expect(try await listedNames(reader) == [])
            let metrics = String(decoding: try await reader.internalListener.request(.GET, "/metrics").body, as: UTF8.self)
            #expect(metrics.contains(#"shop_cache_lookups_total{cache="catalog",outcome="hit"}"#))
        }
    }

    /// Products on a PostgreSQL database of their own and a real Redis, as production runs
    /// them: `body` gets each instance's environment, the users' database and the Redis.
    private func onPostgresAndRedis(_ body: @Sendable ([String: String], DatabaseURL, RedisServer) async throws -> Void) async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        try await TestDatabases.withPostgresURL { users in
            try await TestDatabases.withPostgresURL { products in
                let environment = [
                    "REDIS_URL": "redis://127.0.0.1:\(redis.port)", "JWT_SIGNING_KEYS_FILE": keys,
                    "PRODUCTS_DATABASE_URL": "postgres://\(products.username)@\(products.host):\(products.port)/\(products.database)",
                ]
                try await body(environment, users, redis)
            }
        }
    }

    /// With Redis, a read's stock comes from the counts there. A product's first read, and
    /// a page's, load the stock from PostgreSQL with the products and seed those counts, so
    /// the next read queries nothing; before, the second read queried the stock alone.
    @Test(.enabled(if: RedisServer.available && TestDatabases.postgresAvailable))
    func theFirstReadOfAProductOrAPageSeedsTheirCountsInRedis() async throws {
        try await onPostgresAndRedis { environment, users, redis in
            try await TestServer.with(usersDatabaseURL: users, environment: environment) { shop in
                let counts = RedisClient(.init(url: RedisURL(host: "127.0.0.1", port: redis.port)), logger: .init(label: "test"))
                defer { counts.shutdown() }
                func count(_ id: Int64) async throws -> String? {
                    try await counts.send([RESPArgument("GET"), RESPArgument("shop:stock:\(id)")]).string
                }
                var ids: [Int64] = []
                for number in 1...2 {
                    let created = try await shop.request(
                        .POST,
                        "/api/v1/products",
                        json: #"{"sku":"lamp-\#(number)","name":"Lamp \#(number)","price":{"amount":500,"currency":"EUR"},"status":"active"}"#
                    )
                    ids.append(try #require(created.json?["data"]?["id"]?.integer))
                }
                // Nothing reserved and nothing read yet: no counts.
                #expect(try await count(ids[0]) == nil)
                #expect(try await count(ids[1]) == nil)

                let first = try await shop.anonymous.request(.GET, "/api/v1/products/\(ids[0])")

                #expect(first.json?["data"]?["available"]?.integer == 0)
                #expect(try await count(ids[0]) == "0")
                #expect(try await count(ids[1]) == nil)
                let page = try await shop.anonymous.request(.GET, "/api/v1/products?sort=price")
                #expect(page.json?["data"]?.array?.count == 2)
                #expect(try await count(ids[1]) == "0")
                // The seeded count is the live one from then on.
                _ = try await shop.request(.POST, "/api/v1/products/\(ids[1])/inventory/adjustments", json: #"{"change":3,"reason":"delivery"}"#)
                #expect(try await count(ids[1]) == "3")
                #expect(try await shop.anonymous.request(.GET, "/api/v1/products/\(ids[1])").json?["data"]?["available"]?.integer == 3)
            }
        }
    }

    /// A change the service did not make (straight in the database, as a request that died
    /// after its commit or could not reach Redis leaves it) is seen within the catch-up's
    /// second, not after the entries' life: an existing product's entry lives an hour, a
    /// missing one's and a page's the minute.
    @Test(.enabled(if: RedisServer.available && TestDatabases.postgresAvailable))
    func aChangeMadeOutsideTheServiceIsSeenAfterTheCatchUpNotTheEntrysLife() async throws {
        try await onPostgresAndRedis { environment, users, redis in
            try await TestServer.with(usersDatabaseURL: users, environment: environment) { shop in
                let id = try await cachedProduct(shop, sku: "bowl-1", name: "Bowl", reader: shop.anonymous)
                #expect(try await shop.anonymous.request(.GET, "/api/v1/products/\(id + 1000)").status == 404)

                let client = RedisClient(.init(url: RedisURL(host: "127.0.0.1", port: redis.port)), logger: .init(label: "test"))
                defer { client.shutdown() }
                func life(_ pattern: String) async throws -> Int? {
                    let keys = try await client.send([RESPArgument("KEYS"), RESPArgument(pattern)]).array ?? []
                    guard keys.count == 1, let key = keys[0].string else { return nil }
                    return try await client.send([RESPArgument("TTL"), RESPArgument(key)]).int
                }
                #expect(try await life("shop:catalog:*:product:\(id)").map { $0 > 3_000 } == true, "an hour")
                #expect(try await life("shop:catalog:*:product:\(id + 1000)").map { $0 <= 60 } == true, "a minute")
                #expect(try await life("shop:catalog:*:list:*").map { $0 <= 60 } == true, "a minute")

                let database = PostgresDatabase(
                    url: try DatabaseURL(try #require(environment["PRODUCTS_DATABASE_URL"])),
                    maxConnections: 1,
                    logger: TestDatabases.logger
                )
                try await database.withRunning {
                    try await database.transaction { sql in
                        try await sql.raw("UPDATE products SET name = 'Soup bowl' WHERE id = \(bind: id)").run()
                    }
                }
                let clock = ContinuousClock()
                let changed = clock.now
                var product: String?
                var listed: [String] = []
                while clock.now - changed < .seconds(15) {
                    product = try await name(shop.anonymous, "/api/v1/products/\(id)")
                    listed = try await listedNames(shop.anonymous)
                    if product == "Soup bowl", listed == ["Soup bowl"] { break }
                    try await Task.sleep(for: .milliseconds(100))
                }
                #expect(product == "Soup bowl")
                #expect(listed == ["Soup bowl"])
            }
        }
    }

    @Test(.enabled(if: RedisServer.available && TestDatabases.postgresAvailable))
    func twoInstancesOnOneRedisSeeEachOthersChanges() async throws {
        try await onPostgresAndRedis { environment, users, _ in
            try await TestServer.with(usersDatabaseURL: users, environment: environment) { first in
                try await TestServer.with(usersDatabaseURL: users, environment: environment) { second in
                    let id = try await cachedProduct(first, sku: "vase-1", name: "Vase", reader: first.anonymous)
                    _ = try await second.request(.PATCH, "/api/v1/products/\(id)", json: #"{"name":"Tall vase"}"#)
                    #expect(try await name(first.anonymous, "/api/v1/products/\(id)") == "Tall vase")
                    #expect(try await listedNames(first.anonymous) == ["Tall vase"])

                    // Stock is never served from the cache: a change on one instance is in
                    // the very next read on the other, and that read is still a cache hit.
                    func listed(_ shop: RunningShop) async throws -> Int64? {
                        try await shop.request(.GET, "/api/v1/products?sort=price").json?["data"]?.array?.first?["available"]?.integer
                    }
                    func hits(_ shop: RunningShop) async throws -> Double {
                        let text = String(decoding: try await shop.internalListener.request(.GET, "/metrics").body, as: UTF8.self)
                        let line = text.split(separator: "\n").first { $0.hasPrefix(#"shop_cache_lookups_total{cache="catalog",outcome="hit"}"#) }
                        return line.flatMap { $0.split(separator: " ").last.flatMap { Double($0) } } ?? 0
                    }
                    #expect(try await listed(first.anonymous) == 0)
                    let adjusted = try await second.request(
                        .POST,
                        "/api/v1/products/\(id)/inventory/adjustments",
                        json: #"{"change":7,"reason":"delivery"}"#
                    )
                    #expect(adjusted.status == 201)
                    let before = try await hits(first)
                    #expect(try await listed(first.anonymous) == 7)
                    #expect(try await first.anonymous.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 7)
                    #expect(try await hits(first) == before + 2, "both reads came from the cache")
                }
            }
        }
    }
}
