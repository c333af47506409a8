import Foundation
import ProductAPI
import Redis

/// The live available count of each product in Redis, so that a reservation under heavy
/// load is one atomic script and most refusals never reach the database.
///
/// The database stays the source of truth: every reservation is still taken there with
/// a conditional update, so a wrong count here can refuse a sale that was possible, but
/// never allow one that was not. A missing count (a Redis restart, an eviction) is
/// rebuilt from the database.
struct StockCache: Sendable {
    let redis: RedisClient
    let prefix: String

    static let defaultPrefix = "shop:stock"

    init(redis: RedisClient, prefix: String = StockCache.defaultPrefix) {
        self.redis = redis
        self.prefix = prefix
    }

    enum Outcome: Equatable {
        case taken
        case outOfStock(productID: Int64)
        /// These products have no count here yet.
        case missing([Int64])
    }

    /// Takes every line from the counts, all or nothing.
    static let takeScript = RedisScript(
        """
        local missing = {}
        for i, key in ipairs(KEYS) do
            if redis.call('EXISTS', key) == 0 then table.insert(missing, i) end
        end
        if #missing > 0 then return {'missing', unpack(missing)} end
        for i, key in ipairs(KEYS) do
            if tonumber(redis.call('GET', key)) < tonumber(ARGV[i]) then return {'out', i} end
        end
        for i, key in ipairs(KEYS) do redis.call('DECRBY', key, ARGV[i]) end
        return {'ok'}
        """
    )

    func key(_ productID: Int64) -> String { "\(prefix):\(productID)" }

    func take(_ lines: [ReservationLine]) async throws -> Outcome {
        let reply = try await redis.evaluate(
            Self.takeScript,
            keys: lines.map { key($0.productID) },
            arguments: lines.map { RESPArgument($0.quantity) }
        )
        let parts = reply.array ?? []
        switch parts.first?.string {
        case "ok": return .taken
        case "out":
            let index = (parts.dropFirst().first?.int ?? 1) - 1
            return .outOfStock(productID: lines[index].productID)
        default:
            return .missing(parts.dropFirst().compactMap(\.int).map { lines[$0 - 1].productID })
        }
    }

    /// Adds units to counts that exist; a missing count stays missing (`INCRBY` alone would
    /// create it holding just the units given back, which reads would then show as the
    /// product's stock).
    static let giveScript = RedisScript(
        """
        for i, key in ipairs(KEYS) do
            if redis.call('EXISTS', key) == 1 then redis.call('INCRBY', key, ARGV[i]) end
        end
        return 1
        """
    )

    /// Gives units back (a release, an expiry, a reservation the database refused).
    func give(_ lines: [ReservationLine]) async throws {
        guard !lines.isEmpty else { return }
        _ = try await redis.evaluate(
            Self.giveScript,
            keys: lines.map { key($0.productID) },
            arguments: lines.map { RESPArgument($0.quantity) }
        )
    }

    /// Sets a count from the database, unless one is there already (another instance won).
    func seed(_ productID: Int64, available: Int) async throws {
        _ = try await redis.set(key(productID), to: String(available), onlyIfAbsent: true)
    }

    /// Sets counts read from the database where none is there yet, in one round trip: a
    /// read that found none leaves them for the next read (a reservation seeds its own).
    func seed(_ levels: [Int64: Int]) async throws {
        guard !levels.isEmpty else { return }
        _ = try await redis.pipeline(levels.map { ["SET", RESPArgument(key($0.key)), RESPArgument(String($0.value)), "NX"] })
    }

    /// Overwrites a count with the database's (reconciliation).
    func reset(_ productID: Int64, available: Int) async throws {
        _ = try await redis.set(key(productID), to: String(available))
    }

    /// The counts of `productIDs` as they are now (`nil` where there is none), in one round trip.
    func counts(_ productIDs: [Int64]) async throws -> [String?] {
        guard !productIDs.isEmpty else { return [] }
        let reply = try await redis.send([RESPArgument("MGET")] + productIDs.map { RESPArgument(key($0)) })
        return (reply.array ?? []).map(\.string)
    }

    /// Sets each count to the database's, but only where it still holds what was `seen`
    /// before the database was read: a count that moved meanwhile belongs to an operation
    /// in flight and is left for the next sweep; a missing one is rebuilt on demand.
    static let resetScript = RedisScript(
        """
        for i, key in ipairs(KEYS) do
            local seen = ARGV[2 * i - 1]
            if seen ~= '' and redis.call('GET', key) == seen then redis.call('SET', key, ARGV[2 * i]) end
        end
        return 1
        """
    )

    func reset(_ levels: [(productID: Int64, available: Int, seen: String?)]) async throws {
        guard !levels.isEmpty else { return }
        _ = try await redis.evaluate(
            Self.resetScript,
            keys: levels.map { key($0.productID) },
            arguments: levels.flatMap { [RESPArgument($0.seen ?? ""), RESPArgument(String($0.available))] }
        )
    }

    func available(_ productID: Int64) async throws -> Int? {
        try await redis.get(key(productID)).flatMap { Int($0) }
    }
}
