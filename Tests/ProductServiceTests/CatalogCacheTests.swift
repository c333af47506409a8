import Foundation
import Logging
import Platform
import ProductAPI
import Redis
import TestSupport
import Testing

@testable import ProductService

/// The read cache's generations, in memory and on a real redis-server.
@Suite struct CatalogCacheTests {
    static let logger = Logger(label: "cache-test")

    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case memory, redis
        var testDescription: String { rawValue }
    }

    static var kinds: [Kind] {
        RedisServer.available ? Kind.allCases : Backends.skipping("redis-server", in: "the Redis cases of \(#fileID)", [.memory])
    }

    static func client(of server: RedisServer) -> RedisClient {
        RedisClient(
            .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
            logger: logger
        )
    }

    private func withStore(_ kind: Kind, _ body: (any CatalogCacheStore) async throws -> Void) async throws {
        switch kind {
        case .memory:
            try await body(MemoryCatalogCache())
        case .redis:
            try await withRedisStore(body)
        }
    }

    /// The shared store on a redis-server of its own.
    private func withRedisStore(_ body: (RedisCatalogCache) async throws -> Void) async throws {
        let server = try RedisServer()
        let redis = Self.client(of: server)
        defer { redis.shutdown() }
        try await body(RedisCatalogCache(redis: redis, prefix: "test:catalog"))
    }

    @Test(arguments: kinds)
    func aChangeHidesEveryEntryAndALateWriterCannotBringItBack(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            let first = try await store.lookup("product:1")
            #expect(first.value == nil)
            try await store.store("product:1", generation: first.generation, value: "old", ttl: .seconds(60))
            #expect(try await store.lookup("product:1").value == "old")

            // A reader misses, a change happens, then the reader stores what it read before.
            let reader = try await store.lookup("product:2")
            try await store.invalidateAll()
            try await store.store("product:2", generation: reader.generation, value: "stale", ttl: .seconds(60))
            #expect(try await store.lookup("product:2").value == nil, "stored under a generation nobody reads")
            #expect(try await store.lookup("product:1").value == nil, "every entry of the old generation is gone")

            let now = try await store.lookup("product:1")
            #expect(now.generation != first.generation)
            try await store.store("product:1", generation: now.generation, value: "new", ttl: .seconds(60))
            #expect(try await store.lookup("product:1").value == "new")
        }
    }

    /// Catching up with the database's count of changes starts one generation per count not
    /// seen yet, and after Redis lost its keys starts past every generation counted before.
    @Test(arguments: kinds.filter { $0 == .redis })
    func catchingUpStartsAGenerationOnlyForACountNotSeenYet(_ kind: Kind) async throws {
        try await withRedisStore { store in try await catchUp(store) }
    }

    private func catchUp(_ store: RedisCatalogCache) async throws {
        let before = Int(Date().timeIntervalSince1970 * 1000)
        try await store.store("product:1", generation: try await store.lookup("product:1").generation, value: "old", ttl: .seconds(60))

        try await store.catchUp(toChanges: 5)
        let first = try await store.lookup("product:1")
        #expect(first.value == nil, "a count not seen yet hides what was kept")
        #expect(first.generation > before, "the first count starts past the time in milliseconds")
        try await store.store("product:1", generation: first.generation, value: "new", ttl: .seconds(60))

        for seen in [5, 4, 0] as [Int64] {
            try await store.catchUp(toChanges: seen)
            #expect(try await store.lookup("product:1") == (first.generation, "new"), "count \(seen) was caught up with")
        }
        try await store.catchUp(toChanges: 6)
        #expect(try await store.lookup("product:1") == (first.generation + 1, nil))

        // Redis loses everything; an instance may still keep entries near under the
        // generations counted before, so the next one must not repeat any of them (two
        // changes were counted within milliseconds of the first: the time must move past).
        try await Task.sleep(for: .milliseconds(5))
        _ = try await store.redis.send([RESPArgument("FLUSHALL")])
        try await store.catchUp(toChanges: 6)
        #expect(try await store.lookup("product:1").generation > first.generation + 1)
    }

    /// On Redis a hit brings the live counts of the products its entry names, in the same
    /// round trip; a product without a count is left to the database.
    @Test(arguments: kinds.filter { $0 == .redis })
    func aHitOnRedisBringsTheLiveCountsOfItsProducts(_ kind: Kind) async throws {
        try await withRedisStore { store in
            let redis = store.redis
            let encoded = Array(#"{"data":[{"available":-7346193861550411337},{"available":-7346193861550411337}]}"#.utf8)
            let body = CachedListBody(
                template: try #require(StockTemplate(encoded: encoded, productIDs: [4, 9])),
                page: .page(items: [4, 9], number: 1, perPage: 20, total: 2)
            )
            try await store.store("list", generation: 0, value: body.cacheText, ttl: .seconds(60))
            try await StockCache(redis: redis, prefix: "test:stock").seed([4: 3])

            let found = try await store.lookup("list", stockPrefix: "test:stock")
            #expect(found.value == body.cacheText)
            #expect(found.counts == [4: 3])
            #expect(try await store.lookup("list", stockPrefix: nil).counts == [:])
            #expect(try await store.lookup("missing", stockPrefix: "test:stock").value == nil)
            // A product that does not exist is kept as `none` and names no product.
            try await store.store("product:5", generation: 0, value: "none", ttl: .seconds(60))
            #expect(try await store.lookup("product:5", stockPrefix: "test:stock").counts == [:])
            // A seed never overwrites a count that is there.
            try await StockCache(redis: redis, prefix: "test:stock").seed([4: 100, 9: 1])
            #expect(try await store.lookup("list", stockPrefix: "test:stock").counts == [4: 3, 9: 1])
        }
    }

    /// Two instances, each with its near cache, on one Redis: a hit uses the decoded value
    /// only while its generation is current (asked in the round trip that brings the live
    /// counts), so a change made through the other instance is seen on the very next read,
    /// and a count changed anywhere is live on every read.
    @Test(arguments: kinds.filter { $0 == .redis })
    func aNearCacheIsUsedOnlyWhileItsGenerationIsCurrent(_ kind: Kind) async throws {
        let server = try RedisServer()
        let redis = Self.client(of: server)
        defer { redis.shutdown() }
        func instance() -> CatalogCache {
            var cache = CatalogCache(
                store: RedisCatalogCache(redis: redis, prefix: "test:catalog"),
                ttl: .seconds(60),
                metrics: nil,
                logger: Self.logger
            )
            cache.stockPrefix = "test:stock"
            cache.near = NearCatalogCache()
            return cache
        }
        let (one, two) = (instance(), instance())
        let stock = StockCache(redis: redis, prefix: "test:stock")
        try await stock.seed([4: 3, 9: 1])
        func page(_ marker: String) throws -> CachedListBody {
            let encoded = Array(#"{"data":[{"available":-7346193861550411337},{"available":-7346193861550411337}],"m":"\#(marker)"}"#.utf8)
            return CachedListBody(
                template: try #require(StockTemplate(encoded: encoded, productIDs: [4, 9])),
                page: .page(items: [4, 9], number: 1, perPage: 20, total: 2)
            )
        }
        let loads = LoadCounter()
        func read(_ cache: CatalogCache, _ marker: String) async throws -> (CachedListBody, Bool, [Int64: Int]) {
            try await cache.value("list", as: CachedListBody.self) {
                await loads.add()
                return try page(marker)
            }
        }
        var (value, fresh, _) = try await read(one, "first")
        let first = try page("first").template
        let second = try page("second").template
        #expect(fresh && value.template == first)
        #expect(one.near?.usage.entries == 1)
        (value, fresh, _) = try await read(two, "unused")
        #expect(!fresh && value.template == first, "the other instance reads the shared entry")
        var counts: [Int64: Int]
        (value, fresh, counts) = try await read(one, "unused")
        #expect(!fresh && counts == [4: 3, 9: 1], "a near hit with the live counts")
        // A sale anywhere: the next near hit shows it.
        _ = try await redis.increment("test:stock:4", by: -2)
        (_, _, counts) = try await read(one, "unused")
        #expect(counts == [4: 1, 9: 1])
        // A change through the other instance: the near entry is not used again.
        await two.invalidate()
        (value, fresh, _) = try await read(one, "second")
        #expect(fresh && value.template == second, "read from the database after the change")
        #expect(await loads.count == 2)
        (value, fresh, _) = try await read(one, "unused")
        #expect(!fresh && value.template == second)
        #expect(await loads.count == 2)
    }

    @Test func theMemoryCacheStaysBoundedByCountAndBySize() {
        let cache = MemoryCatalogCache(maxEntries: 10)
        for index in 0..<25 { cache.store("k\(index)", generation: 0, value: "v", ttl: .seconds(60)) }
        let kept = (0..<25).filter { cache.lookup("k\($0)").value != nil }.count
        #expect(kept <= 10 && kept >= 5)
        #expect(cache.lookup("k24").value == "v", "the newest entry is kept")

        // Many distinct large pages (one query string each) stay within the byte bound.
        let sized = MemoryCatalogCache(maxEntries: 10_000, maxBytes: 100_000)
        let page = String(repeating: "x", count: 5_000)
        for index in 0..<200 { sized.store("list:min_price=\(index)", generation: 0, value: page, ttl: .seconds(60)) }
        #expect(sized.usage.bytes <= 100_000)
        #expect(sized.usage.entries >= 10)
        sized.store("huge", generation: 0, value: String(repeating: "x", count: 20_000), ttl: .seconds(60))
        #expect(sized.lookup("huge").value == nil, "a value over a tenth of the bound is not kept")

        // Expired entries leave when they are looked up.
        let expiring = MemoryCatalogCache()
        expiring.store("gone", generation: 0, value: "v", ttl: .zero)
        #expect(expiring.lookup("gone").value == nil)
        #expect(expiring.usage.entries == 0 && expiring.usage.bytes == 0)
    }

    @Test func cachedAnswersAreWeighedByTheirBytes() throws {
        let body =
            Array(#"{"data":[{"available":-7346193861550411337,"description":""#.utf8) + Array(repeating: UInt8(ascii: "d"), count: 10_000)
            + Array(#""}]}"#.utf8)
        let template = try #require(StockTemplate(encoded: body, productIDs: [1]))
        let page = CachedListBody(template: template, page: .page(items: [1], number: 1, perPage: 20, total: 1))
        #expect(page.approximateBytes > 10_000)
        let product: CachedProductBody? = CachedProductBody(template: template, id: 1, version: 1, active: true)
        #expect((product as any CacheWeighable).approximateBytes > 10_000)
    }

    /// A value kept as text in these tests.
    struct Note: CatalogCacheValue, Equatable {
        var text: String
        var cacheText: String { "note:" + text }
        var productIDs: [Int64] { [] }
        init(_ text: String) { self.text = text }
        init?(cacheText: String) {
            guard cacheText.hasPrefix("note:") else { return nil }
            text = String(cacheText.dropFirst(5))
        }
    }

    @Test func aCacheThatFailsIsAMissNotAnError() async throws {
        struct Broken: CatalogCacheStore {
            struct Down: Error {}
            func lookup(_ key: String) async throws -> (generation: Int, value: String?) { throw Down() }
            func store(_ key: String, generation: Int, value: String, ttl: Duration) async throws { throw Down() }
            func invalidateAll() async throws { throw Down() }
        }
        let cache = CatalogCache(store: Broken(), ttl: .seconds(60), metrics: nil, logger: Self.logger)
        let loads = LoadCounter()
        for _ in 0..<2 {
            let (value, fresh, _) = try await cache.value("k", as: Note.self) {
                await loads.add()
                return Note("loaded")
            }
            #expect(value == Note("loaded") && fresh)
        }
        #expect(await loads.count == 2)
        await cache.invalidate()
    }

    /// A store of text, as Redis is.
    actor TextStore: CatalogCacheStore {
        var entries: [String: String] = [:]
        func lookup(_ key: String) -> (generation: Int, value: String?) { (0, entries[key]) }
        func store(_ key: String, generation: Int, value: String, ttl: Duration) { entries[key] = value }
        func invalidateAll() { entries = [:] }
        func put(_ key: String, _ value: String) { entries[key] = value }
    }

    @Test func pagesKeptAsTextReadBackAndTextTheyDidNotWriteIsAMiss() async throws {
        let text = TextStore()
        let cache = CatalogCache(store: text, ttl: .seconds(60), metrics: nil, logger: Self.logger)
        let encoded = Array(#"{"data":[{"available":-7346193861550411337,"id":4},{"available":-7346193861550411337,"id":9}],"meta":{}}"#.utf8)
        let next = Cursor(sort: "-created_at", values: ["1764065700123456", "9"])
        let body = CachedListBody(
            template: try #require(StockTemplate(encoded: encoded, productIDs: [4, 9])),
            page: .cursor(items: [4, 9], perPage: 2, next: next)
        )
        let loads = LoadCounter()
        for round in 0..<3 {
            let (read, fresh, _) = try await cache.value("list", as: CachedListBody.self) {
                await loads.add()
                return body
            }
            #expect(fresh == (round == 0))
            #expect(
                String(buffer: read.template.filled(with: [4: 3, 9: 0])) == #"{"data":[{"available":3,"id":4},{"available":0,"id":9}],"meta":{}}"#
            )
            guard case .cursor(let ids, 2, let cursor) = read.page else {
                Issue.record("not the cursor page: \(read.page)")
                continue
            }
            #expect(ids == [4, 9] && cursor == next)
        }
        #expect(await loads.count == 1)

        // A product that does not exist is kept as such; damaged text is loaded again.
        let missing = try await cache.value("product:5", as: CachedProductBody?.self) { nil }
        #expect(missing.value == nil && missing.fresh)
        #expect(await text.entries["product:5"] == "none")
        #expect(try await cache.value("product:5", as: CachedProductBody?.self) { nil }.fresh == false)
        await text.put("list", "page x\n{}")
        #expect(try await cache.value("list", as: CachedListBody.self) { body }.fresh)
    }
}

/// The answer with holes for stock: split where the placeholder stands, never inside a string.
@Suite struct StockTemplateTests {
    @Test func countsFillTheHolesInOrder() throws {
        let encoded = Array(#"{"data":{"available":-7346193861550411337,"name":"Lamp"},"errors":[]}"#.utf8)
        let template = try #require(StockTemplate(encoded: encoded, productIDs: [7]))
        #expect(String(buffer: template.filled(with: [7: 12])) == #"{"data":{"available":12,"name":"Lamp"},"errors":[]}"#)
        #expect(String(buffer: template.filled(with: [:])) == #"{"data":{"available":0,"name":"Lamp"},"errors":[]}"#)
        let back = try #require(StockTemplate(text: Substring(template.text)))
        #expect(back == template)
    }

    @Test func thePlaceholderInsideATextIsNotAHole() throws {
        // A description that spells the placeholder out is escaped by the encoder.
        let resourceText = #""available":-7346193861550411337"#
        let escaped = try String(decoding: JSONEncoder().encode(["description": resourceText]), as: UTF8.self)
        let encoded = Array(#"{"data":{"available":-7346193861550411337,"x":"#.utf8) + Array(escaped.utf8) + Array("}}".utf8)
        let template = try #require(StockTemplate(encoded: encoded, productIDs: [1]))
        #expect(template.pieces.count == 2)
        #expect(String(buffer: template.filled(with: [1: 5])).contains(#"\"available\":-7346193861550411337"#))
    }

    @Test func aHoleCountThatDoesNotMatchTheProductsIsRefused() {
        let encoded = Array(#"{"available":-7346193861550411337}"#.utf8)
        #expect(StockTemplate(encoded: encoded, productIDs: []) == nil)
        #expect(StockTemplate(encoded: encoded, productIDs: [1, 2]) == nil)
        #expect(StockTemplate(text: "1,x\n{}") == nil)
        #expect(StockTemplate(text: "no newline") == nil)
    }
}

actor LoadCounter {
    var count = 0
    func add() { count += 1 }
}
