import Foundation
import Logging
import Platform
import Redis
import Synchronization

/// Where cached catalog reads are kept: in memory (one process) or in Redis (every
/// instance shares them).
///
/// Entries live in generations: a change of the catalog starts a new generation, so every
/// entry made before it is unreachable at once, on every instance. A reader that looked
/// up an entry before a change stores what it read under the old generation, where nobody
/// reads it again: a slow reader cannot put a stale entry back.
protocol CatalogCacheStore: Sendable {
    /// The current generation and the entry under `key` in it.
    func lookup(_ key: String) async throws -> (generation: Int, value: String?)
    func store(_ key: String, generation: Int, value: String, ttl: Duration) async throws
    /// Starts a new generation.
    func invalidateAll() async throws
    /// Starts a new generation unless one was already started for `changes` (the database's
    /// count of catalog changes, read after they committed) or more.
    func catchUp(toChanges changes: Int64) async throws
    /// The entry under `key` and the live counts of the products it names, where the store
    /// keeps them (see the extension).
    func lookup(_ key: String, stockPrefix: String?) async throws -> (generation: Int, value: String?, counts: [Int64: Int])
    /// The current generation and the live counts of `productIDs` under `stockPrefix`, in one
    /// round trip (shared with other hits asking at the same time); nil where the store keeps
    /// no counts. The caller uses its entry only when the generation it was read under is
    /// still the current one.
    func counts(of productIDs: [Int64], stockPrefix: String) async throws -> (generation: Int, counts: [Int64: Int])?
}

extension CatalogCacheStore {
    /// The entry under `key` and, where it names products (its second line, as
    /// ``StockTemplate`` writes it), their live counts under `stockPrefix`: a store that
    /// keeps none answers none, and the caller reads them from the database.
    func lookup(_ key: String, stockPrefix: String?) async throws -> (generation: Int, value: String?, counts: [Int64: Int]) {
        let (generation, value) = try await lookup(key)
        return (generation, value, [:])
    }

    func counts(of productIDs: [Int64], stockPrefix: String) async throws -> (generation: Int, counts: [Int64: Int])? {
        nil
    }

    /// A store that does not remember the counts it caught up with starts a new generation.
    func catchUp(toChanges changes: Int64) async throws {
        try await invalidateAll()
    }
}

/// A cached value that can say roughly how much memory it holds.
protocol CacheWeighable {
    var approximateBytes: Int { get }
}

/// Entries bounded by count and by an estimate of their size, each until its expiry: past
/// either bound, arbitrary entries (the dictionary's order) go until a tenth of each bound
/// is free. A value over a tenth of the size bound is not kept.
struct KeptEntries<Tag: Sendable>: Sendable {
    struct Entry: Sendable {
        let value: any Sendable
        let tag: Tag
        let bytes: Int
        let expires: ContinuousClock.Instant
    }

    private(set) var entries: [String: Entry] = [:]
    private(set) var bytes = 0
    let maxEntries: Int
    let maxBytes: Int

    init(maxEntries: Int, maxBytes: Int) {
        self.maxEntries = maxEntries
        self.maxBytes = maxBytes
    }

    /// The entry under `key` unless it has expired (then it goes).
    mutating func entry(_ key: String, now: ContinuousClock.Instant) -> Entry? {
        guard let entry = entries[key] else { return nil }
        guard entry.expires > now else {
            remove(key)
            return nil
        }
        return entry
    }

    mutating func keep(_ key: String, value: any Sendable, tag: Tag, ttl: Duration) {
        let bytes = key.utf8.count + ((value as? any CacheWeighable)?.approximateBytes ?? (value as? String)?.utf8.count ?? 256)
        guard bytes <= maxBytes / 10 else { return }
        remove(key)
        if entries.count >= maxEntries || self.bytes + bytes > maxBytes {
            for evicted in entries.keys {
                guard entries.count > maxEntries * 9 / 10 || self.bytes + bytes > maxBytes * 9 / 10 else { break }
                remove(evicted)
            }
        }
        entries[key] = Entry(value: value, tag: tag, bytes: bytes, expires: ContinuousClock.now + ttl)
        self.bytes += bytes
    }

    mutating func remove(_ key: String) {
        if let entry = entries.removeValue(forKey: key) { bytes -= entry.bytes }
    }

    mutating func removeAll() {
        entries.removeAll(keepingCapacity: true)
        bytes = 0
    }
}

/// The embedded cache: the current generation's entries, bounded by count and by an
/// estimate of their size (a query string per key, so many distinct large pages must not
/// grow it without limit). It keeps values as they are (no encoding), so a hit costs a
/// lookup.
final class MemoryCatalogCache: CatalogCacheStore {
    private struct State {
        var generation = 0
        var kept: KeptEntries<Void>
    }

    private let state: Mutex<State>

    init(maxEntries: Int = 10_000, maxBytes: Int = 64 << 20) {
        state = Mutex(State(kept: KeptEntries(maxEntries: maxEntries, maxBytes: maxBytes)))
    }

    func lookup(_ key: String) -> (generation: Int, value: String?) {
        let (generation, value) = lookupValue(key)
        return (generation, value as? String)
    }

    func store(_ key: String, generation: Int, value: String, ttl: Duration) {
        storeValue(key, generation: generation, value: value, ttl: ttl)
    }

    func lookupValue(_ key: String) -> (generation: Int, value: (any Sendable)?) {
        let now = ContinuousClock.now
        return state.withLock { state in (state.generation, state.kept.entry(key, now: now)?.value) }
    }

    func storeValue(_ key: String, generation: Int, value: any Sendable, ttl: Duration) {
        state.withLock { state in
            guard generation == state.generation else { return }
            state.kept.keep(key, value: value, tag: (), ttl: ttl)
        }
    }

    /// Entries and their estimated bytes, for tests and metrics.
    var usage: (entries: Int, bytes: Int) { state.withLock { ($0.kept.entries.count, $0.kept.bytes) } }

    func invalidateAll() {
        state.withLock { state in
            state.generation += 1
            state.kept.removeAll()
        }
    }
}

/// What this process keeps of a shared cache's entries: each value as it was decoded, with
/// the generation it was read under and the products whose counts it needs. An entry is
/// only used after the shared cache says (in the round trip that brings the counts) that
/// its generation is still the current one, so it is exactly as fresh as the shared entry,
/// and a hit neither carries the entry over the network nor decodes it.
final class NearCatalogCache: Sendable {
    struct Tag: Sendable {
        var generation: Int
        var productIDs: [Int64]
    }

    private let state: Mutex<KeptEntries<Tag>>

    init(maxEntries: Int = 10_000, maxBytes: Int = 64 << 20) {
        state = Mutex(KeptEntries(maxEntries: maxEntries, maxBytes: maxBytes))
    }

    func entry(_ key: String) -> KeptEntries<Tag>.Entry? {
        let now = ContinuousClock.now
        return state.withLock { $0.entry(key, now: now) }
    }

    func keep(_ key: String, value: any CatalogCacheValue, generation: Int, ttl: Duration) {
        state.withLock { $0.keep(key, value: value, tag: Tag(generation: generation, productIDs: value.productIDs), ttl: ttl) }
    }

    var usage: (entries: Int, bytes: Int) { state.withLock { ($0.entries.count, $0.bytes) } }
}

/// The shared cache: `<prefix>:generation` counts generations, entries are
/// `<prefix>:<generation>:<key>` with a time to live, so old generations expire by themselves.
struct RedisCatalogCache: CatalogCacheStore {
    let redis: RedisClient
    let prefix: String
    /// Near-cache hits' rounds, by stock prefix (one in practice).
    private let countsRounds = RoundsByPrefix()

    init(redis: RedisClient, prefix: String = "shop:catalog") {
        self.redis = redis
        self.prefix = prefix
    }

    /// The generation and the entry in one round trip. The entry's key is built in the
    /// script from the generation it reads (a single Redis, not a cluster).
    static let lookupScript = RedisScript(
        """
        local generation = redis.call('GET', KEYS[1]) or '0'
        return {generation, redis.call('GET', ARGV[1] .. ':' .. generation .. ':' .. ARGV[2])}
        """
    )

    func lookup(_ key: String) async throws -> (generation: Int, value: String?) {
        let reply = try await redis.evaluate(
            Self.lookupScript,
            keys: ["\(prefix):generation"],
            arguments: [RESPArgument(prefix), RESPArgument(key)]
        )
        let parts = reply.array ?? []
        return (parts.first?.string.flatMap { Int($0) } ?? 0, parts.dropFirst().first?.string)
    }

    /// The generation, the entry, and the live stock counts of the products the entry names
    /// (its second line), all in one round trip: a cache hit needs nothing else.
    static let lookupWithStockScript = RedisScript(
        """
        local generation = redis.call('GET', KEYS[1]) or '0'
        local value = redis.call('GET', ARGV[1] .. ':' .. generation .. ':' .. ARGV[2])
        if not value then return {generation} end
        local result = {generation, value}
        local ids = string.match(value, '^[^\\n]*\\n([0-9,]+)\\n')
        if ids and ARGV[3] ~= '' then
            local keys = {}
            for id in string.gmatch(ids, '[0-9]+') do table.insert(keys, ARGV[3] .. ':' .. id) end
            local counts = redis.call('MGET', unpack(keys))
            for i = 1, #keys do result[i + 2] = counts[i] or '' end
        end
        return result
        """
    )

    func lookup(_ key: String, stockPrefix: String?) async throws -> (generation: Int, value: String?, counts: [Int64: Int]) {
        guard let stockPrefix else {
            let (generation, value) = try await lookup(key)
            return (generation, value, [:])
        }
        let reply = try await redis.evaluate(
            Self.lookupWithStockScript,
            keys: ["\(prefix):generation"],
            arguments: [RESPArgument(prefix), RESPArgument(key), RESPArgument(stockPrefix)]
        )
        let parts = reply.array ?? []
        let generation = parts.first?.string.flatMap { Int($0) } ?? 0
        guard let value = parts.dropFirst().first?.string else { return (generation, nil, [:]) }
        var counts: [Int64: Int] = [:]
        if parts.count > 2, let newline = value.firstIndex(of: "\n") {
            let rest = value[value.index(after: newline)...]
            let ids = rest.prefix { $0 != "\n" }.split(separator: ",").compactMap { Int64($0) }
            for (id, count) in zip(ids, parts.dropFirst(2)) {
                if let count = count.string.flatMap({ Int($0) }) { counts[id] = count }
            }
        }
        return (generation, value, counts)
    }

    /// The generation and the counts of the products asked about: what near-cache entries
    /// need to be used. One call answers every hit of a round (``ReadRounds``).
    static let countsScript = RedisScript(
        """
        local generation = redis.call('GET', KEYS[1]) or '0'
        if #ARGV < 2 then return {generation} end
        local keys = {}
        for i = 2, #ARGV do table.insert(keys, ARGV[1] .. ':' .. ARGV[i]) end
        local counts = redis.call('MGET', unpack(keys))
        local result = {generation}
        for i = 1, #keys do result[i + 1] = counts[i] or '' end
        return result
        """
    )

    func counts(of productIDs: [Int64], stockPrefix: String) async throws -> (generation: Int, counts: [Int64: Int])? {
        try await rounds(stockPrefix).read(productIDs)
    }

    /// One round's question: the generation and the counts of `productIDs`.
    private static func askCounts(
        _ redis: RedisClient,
        prefix: String,
        stockPrefix: String,
        _ productIDs: [Int64]
    ) async throws -> CountsAnswer {
        var arguments = [RESPArgument(stockPrefix)]
        arguments.reserveCapacity(productIDs.count + 1)
        for id in productIDs { arguments.append(RESPArgument(String(id))) }
        let reply = try await redis.evaluate(countsScript, keys: ["\(prefix):generation"], arguments: arguments)
        let parts = reply.array ?? []
        let current = parts.first?.string.flatMap { Int($0) } ?? 0
        var counts: [Int64: Int] = [:]
        for (id, count) in zip(productIDs, parts.dropFirst()) {
            if let count = count.string.flatMap({ Int($0) }) { counts[id] = count }
        }
        return (current, counts)
    }

    typealias CountsAnswer = (generation: Int, counts: [Int64: Int])

    /// Rounds kept by the stock prefix they ask about (one in practice).
    final class RoundsByPrefix: Sendable {
        let rounds = Mutex<[String: ReadRounds<Int64, CountsAnswer>]>([:])
    }

    private func rounds(_ stockPrefix: String) -> ReadRounds<Int64, CountsAnswer> {
        countsRounds.rounds.withLock { rounds in
            if let existing = rounds[stockPrefix] { return existing }
            let (redis, prefix) = (self.redis, self.prefix)
            let made = ReadRounds<Int64, CountsAnswer> { try await Self.askCounts(redis, prefix: prefix, stockPrefix: stockPrefix, $0) }
            rounds[stockPrefix] = made
            return made
        }
    }

    func store(_ key: String, generation: Int, value: String, ttl: Duration) async throws {
        _ = try await redis.set("\(prefix):\(generation):\(key)", to: value, expiresIn: ttl)
    }

    func invalidateAll() async throws {
        _ = try await redis.increment("\(prefix):generation")
    }

    /// A new generation only for a count of changes no instance has caught up with yet
    /// (kept under `<prefix>:changes`).
    func catchUp(toChanges changes: Int64) async throws {
        try await ChangeCount.catchUp(changes, value: "\(prefix):generation", seen: "\(prefix):changes", in: redis)
    }
}

/// Cached catalog reads as the routes use them: a cache that fails is a miss, never an
/// error, and a change that cannot reach the cache is logged loudly.
struct CatalogCache: Sendable {
    let store: any CatalogCacheStore
    let ttl: Duration
    /// The database's count of catalog changes, where the cache catches up with it: each
    /// change then starts a new generation even when the request that made it could not
    /// (Redis down, the process gone) or it was made outside the service, within
    /// ``catchUpInterval``.
    var changes: (@Sendable () async throws -> Int64)? = nil
    /// How long an existing product's entry lives where ``changes`` is caught up with: its
    /// entries are bounded by the catalog, and a change ends them anyway. Lists and products
    /// not found, whose keys a client chooses, live ``ttl``.
    var productTTL: Duration? = nil
    /// Where the live stock counts are kept beside the entries (Redis), read in the same
    /// round trip as an entry; nil where there are none.
    var stockPrefix: String? = nil
    /// The entries this process decoded, used while their generation is current (with a
    /// shared cache that keeps counts).
    var near: NearCatalogCache? = nil
    let metrics: ShopMetrics?
    let logger: Logger

    /// The cached value under `key`, or `load()`'s, which is then kept; `fresh` says
    /// which. A hit from a shared cache comes with the live stock counts kept beside it,
    /// for the products whose counts are there.
    func value<Value: CatalogCacheValue>(
        _ key: String,
        as type: Value.Type,
        load: () async throws -> Value
    ) async throws -> (value: Value, fresh: Bool, counts: [Int64: Int]) {
        if let memory = store as? MemoryCatalogCache {
            let found = memory.lookupValue(key)
            // Unwrapped first: a miss cast to an optional `Value` would be a cached nil.
            if let boxed = found.value, let value = boxed as? Value {
                metrics?.recordCacheLookup(cache: "catalog", outcome: "hit")
                return (value, false, [:])
            }
            metrics?.recordCacheLookup(cache: "catalog", outcome: "miss")
            let value = try await load()
            memory.storeValue(key, generation: found.generation, value: value, ttl: life(of: value))
            return (value, true, [:])
        }
        if let near, let stockPrefix, let kept = near.entry(key), let value = kept.value as? Value,
            let answer = try? await store.counts(of: kept.tag.productIDs, stockPrefix: stockPrefix),
            answer.generation == kept.tag.generation
        {
            metrics?.recordCacheLookup(cache: "catalog", outcome: "hit")
            return (value, false, answer.counts)
        }
        let found: (generation: Int, value: String?, counts: [Int64: Int])
        do {
            found = try await store.lookup(key, stockPrefix: stockPrefix)
        } catch {
            metrics?.recordCacheLookup(cache: "catalog", outcome: "error")
            return (try await load(), true, [:])
        }
        if let text = found.value, let value = Value(cacheText: text) {
            metrics?.recordCacheLookup(cache: "catalog", outcome: "hit")
            near?.keep(key, value: value, generation: found.generation, ttl: life(of: value))
            return (value, false, found.counts)
        }
        metrics?.recordCacheLookup(cache: "catalog", outcome: "miss")
        let value = try await load()
        try? await store.store(key, generation: found.generation, value: value.cacheText, ttl: life(of: value))
        near?.keep(key, value: value, generation: found.generation, ttl: life(of: value))
        return (value, true, [:])
    }

    /// After a change of the catalog: every instance reads the database next.
    func invalidate() async {
        do {
            if changes != nil {
                try await catchUp()
            } else {
                try await store.invalidateAll()
            }
        } catch {
            // Readers may see the old catalog until the entries' time to live runs out, or
            // with ``changes`` until the next catch-up.
            logger.error("catalog cache not invalidated", metadata: ["error": "\(error)"])
        }
    }

    /// How often a process catches up with the database's count of changes.
    static let catchUpInterval = Duration.seconds(1)
    /// The database's count of catalog changes (migration 10).
    static let changeCount = ChangeCount(table: "catalog_changes")

    /// Starts a new generation if the catalog changed since the last one was started for a
    /// change: the count is read after every change it counts has committed, so the new
    /// generation hides every entry read before them.
    func catchUp() async throws {
        guard let changes else { return }
        try await store.catchUp(toChanges: try await changes())
    }

    /// How long `value` may be kept.
    func life(of value: some CatalogCacheValue) -> Duration {
        value.boundedByCatalog ? productTTL ?? ttl : ttl
    }
}
