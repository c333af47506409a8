import Foundation
import Logging
import ProductAPI

/// Reservations with the Redis fast path when one is configured: the counts in Redis
/// answer "no" without touching the database, and "yes" is then confirmed by the
/// database, which alone decides.
struct Inventory: Sendable {
    let store: InventoryStore
    let cache: StockCache?
    let logger: Logger

    func reserve(id: String, lines: [ReservationLine], expiresAt: Date, at now: Date) async throws -> Reservation {
        guard let cache else { return try await store.reserve(id: id, lines: lines, expiresAt: expiresAt, at: now) }
        let lines = try ReservationRules.validated(lines)
        var outcome = try await cache.take(lines)
        if case .missing(let products) = outcome {
            for product in products { try await cache.seed(product, available: try await store.stock(of: product).available) }
            outcome = try await cache.take(lines)
        }
        switch outcome {
        case .outOfStock(let product):
            // A retry of a reservation that exists answers it, whatever the counts say now.
            if let existing = try? await store.reservation(id: id), existing.lines == lines { return existing }
            throw InventoryError.outOfStock(productID: product)
        case .missing:
            throw InventoryError.conflict("Stock counts are being rebuilt; retry")
        case .taken:
            do {
                let (reservation, created) = try await store.reserveOnce(id: id, lines: lines, expiresAt: expiresAt, at: now)
                // A retry answered by an earlier reservation: its units were taken then.
                if !created { try await cache.give(lines) }
                return reservation
            } catch {
                try? await cache.give(lines)
                throw error
            }
        }
    }

    func commit(id: String, at now: Date) async throws -> Reservation {
        // Available units do not change: on hand and reserved both drop.
        try await store.commit(id: id, at: now)
    }

    func release(id: String, at now: Date) async throws -> Reservation {
        let before = try await store.reservation(id: id)
        let reservation = try await store.release(id: id, at: now)
        if before?.state == .held { try await giveBack(reservation.lines) }
        return reservation
    }

    func restock(id: String, at now: Date) async throws -> Reservation {
        let before = try await store.reservation(id: id)
        let reservation = try await store.restock(id: id, at: now)
        if before?.state == .committed { try await giveBack(reservation.lines) }
        return reservation
    }

    func expireReservations(now: Date) async throws -> Int {
        let expired = try await store.expireReservations(now: now)
        for reservation in expired { try await giveBack(reservation.lines) }
        return expired.count
    }

    func adjust(productID: Int64, by change: Int, reason: String, at now: Date) async throws -> StockLevel {
        let level = try await store.adjust(productID: productID, by: change, reason: reason, at: now)
        if let cache { try await cache.reset(productID, available: level.available) }
        return level
    }

    /// Sets every count in Redis to the database's: after a Redis restart, or as a
    /// periodic check. Counts drift only if a process died between the database and Redis.
    func reconcile(productIDs: [Int64]) async throws {
        guard let cache else { return }
        for product in productIDs { try await cache.reset(product, available: try await store.stock(of: product).available) }
    }

    /// Sets the Redis counts of the next `batch` products after `afterID` to the
    /// database's, and answers where the next sweep starts (0 after the last product).
    ///
    /// A count can drift low only when a process died between taking units in Redis and
    /// the database (those units would be refused until then); the sweep walks the whole
    /// catalog over time and puts every count right. The counts are read before the
    /// database and set only where they did not move since, so an operation in flight
    /// (an adjustment, a release) is never overwritten with an older figure: racing one,
    /// the sweep can only leave a count too high, which costs a database attempt, never a
    /// sale.
    func reconcileSweep(after afterID: Int64, batch: Int = 1000) async throws -> Int64 {
        guard let cache else { return 0 }
        let ids = try await store.productIDs(after: afterID, limit: batch)
        let seen = try await cache.counts(ids)
        let available = try await CatalogStore(database: store.database).available(of: ids)
        try await cache.reset(zip(ids, seen).map { ($0, available[$0] ?? 0, $1) })
        return ids.count < batch ? 0 : ids.last ?? 0
    }

    private func giveBack(_ lines: [ReservationLine]) async throws {
        guard let cache else { return }
        do {
            try await cache.give(lines)
        } catch {
            // The database has the units back; the next reconciliation fixes the count.
            logger.warning("stock count not returned to Redis", metadata: ["error": "\(error)"])
        }
    }
}
