import Foundation
import Platform
import Synchronization

/// The available units of products as last read, kept in memory while nothing was written
/// to the products database since (all-in-one on SQLite, where this process is its only
/// writer): a list page then needs no stock query at all.
///
/// Any write transaction of Products (a reservation, an adjustment, a new product) empties
/// it, so `available` stays what the database says on every read. A second bounds how old
/// a kept figure can be even so, for a writer outside the process (a `shop` command run
/// beside the server).
final class StockSnapshot: Sendable {
    /// The most products kept.
    static let limit = 100_000
    static let maximumAge = Duration.seconds(1)

    private struct State {
        var generation: UInt64 = 0
        var since = ContinuousClock.now
        var counts: [Int64: Int] = [:]
    }

    private let database: WriteCountingDatabase
    private let state = Mutex(State())

    init(database: WriteCountingDatabase) {
        self.database = database
    }

    /// The available units of `productIDs`: those kept, the rest from `read`, kept for the
    /// next read unless a write ended while they were read.
    func available(of productIDs: [Int64], read: ([Int64]) async throws -> [Int64: Int]) async throws -> [Int64: Int] {
        let generation = database.generation
        let now = ContinuousClock.now
        var known: [Int64: Int] = [:]
        var missing: [Int64] = []
        state.withLock { state in
            if state.generation != generation || now - state.since > Self.maximumAge {
                state = State(generation: generation, since: now)
            }
            for id in productIDs {
                if let count = state.counts[id] { known[id] = count } else { missing.append(id) }
            }
        }
        guard !missing.isEmpty else { return known }
        let fresh = try await read(missing)
        state.withLock { state in
            // Kept only under the count it was read at, and only if that is still the count.
            guard state.generation == generation, database.generation == generation, state.counts.count + fresh.count <= Self.limit else {
                return
            }
            state.counts.merge(fresh) { _, new in new }
        }
        return known.merging(fresh) { _, new in new }
    }
}
