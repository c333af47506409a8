import Foundation
import Logging
import Platform
import ServiceLifecycle
import Synchronization

/// The Products service's background work.
struct ProductJobs: Sendable {
    let inventory: Inventory
    let database: any Database
    let cache: CatalogCache?
    let now: @Sendable () -> Date

    /// Reservation expiry every 15 s, idempotency keys purged hourly, and with Redis a
    /// sweep that sets the live counts back to the database's and the read cache caught up
    /// with the catalog's changes every second.
    func services(logger: Logger) -> [any Service] {
        let (inventory, database, now) = (self.inventory, self.database, self.now)
        var jobs: [any Service] = [
            PeriodicJob("expire stock reservations", every: .seconds(15), logger: logger) {
                _ = try await inventory.expireReservations(now: now())
            },
            PeriodicJob("purge idempotency keys", every: .seconds(3600), logger: logger) {
                _ = try await IdempotencyStore(database: database).purge(now: now())
            },
        ]
        if inventory.cache != nil {
            let sweep = SweepPosition()
            // 1,000 products every 10 s: 100,000 products in under 17 minutes.
            jobs.append(
                PeriodicJob("reconcile stock counts", every: .seconds(10), logger: logger) {
                    let next = try await inventory.reconcileSweep(after: sweep.productID.withLock { $0 })
                    sweep.productID.withLock { $0 = next }
                }
            )
        }
        if let cache, cache.changes != nil {
            jobs.append(PeriodicJob("catch the catalog cache up", every: CatalogCache.catchUpInterval, logger: logger) { try await cache.catchUp() })
        }
        return jobs
    }
}

/// Where the reconciliation sweep of the Redis counts goes on.
final class SweepPosition: Sendable {
    let productID = Mutex<Int64>(0)
}
