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

    private func withStore(_ kind: Kind, _ body: (any CatalogCacheStore) async throws -> Void) async throws {
        switch kind {
        case .memory:
            try await body(MemoryCatalogCache())
        case .redis:
            let server = try RedisServer()
            let redis = RedisClient(
                .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
                logger: Self.logger
            )
            defer { redis.shutdown() }
            try await body(RedisCatalogCache(redis: redis, prefix: "test:catalog"))
        }
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

    @Test func productReadsAreWeighedByTheirText() throws {
        let small = ProductResource(
            id: 1,
            sku: "A",
            slug: "a",
            name: "A",
            description: "",
            price: .init(amount: 1, currency: "EUR"),
            status: "active",
            categoryID: nil,
            attributes: [:],
            available: 0,
            createdAt: Date(),
            updatedAt: Date()
        )
        var large = small
        large.description = String(repeating: "d", count: 10_000)
        #expect(large.approximateBytes - small.approximateBytes == 10_000)
        let page = CachedPage([large, large], of: ListPage<Int>.page(items: [], number: 1, perPage: 20, total: 2))
        #expect(page.approximateBytes > 20_000)
        #expect((Optional(CachedProduct(resource: large, version: 1)) as any CacheWeighable).approximateBytes > 10_000)
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
            #expect(
                try await cache.value("k", as: [Int].self) {
                    await loads.add()
                    return [1, 2]
                } == ([1, 2], true)
            )
        }
        #expect(await loads.count == 2)
        await cache.invalidate()
    }

    /// A store of text, as Redis is: values go through the cache's JSON encoding.
    actor TextStore: CatalogCacheStore {
        var entries: [String: String] = [:]
        func lookup(_ key: String) -> (generation: Int, value: String?) { (0, entries[key]) }
        func store(_ key: String, generation: Int, value: String, ttl: Duration) { entries[key] = value }
        func invalidateAll() { entries = [:] }
    }

    @Test func valuesStoredAsTextRoundTripWithMicrosecondTimestamps() async throws {
        let text = TextStore()
        let cache = CatalogCache(store: text, ttl: .seconds(60), metrics: nil, logger: Self.logger)
        let date = Date(microsecondsSince1970: 1_764_065_700_123_456)
        let loads = LoadCounter()
        for round in 0..<3 {
            #expect(
                try await cache.value("d", as: [Date].self) {
                    await loads.add()
                    return [date]
                } == ([date], round == 0)
            )
        }
        #expect(await loads.count == 1)
        #expect(await text.entries["d"] == "[1764065700123456]")
    }
}

actor LoadCounter {
    var count = 0
    func add() { count += 1 }
}
