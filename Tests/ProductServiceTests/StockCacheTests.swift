import Foundation
import Logging
import Platform
import ProductAPI
import Redis
import TestSupport
import Testing

@testable import ProductService

/// Reservations through the Redis counts, on SQLite and PostgreSQL, with a real redis-server.
@Suite(.enabled(if: RedisServer.available)) struct StockCacheTests {
    static let kinds = TestDatabases.kinds()
    static let t0 = Date()
    static let logger = Logger(label: "stock-test")

    private func withInventory(
        _ kind: DatabaseKind,
        _ body: @Sendable (Inventory, RedisServer, RedisClient) async throws -> Void
    ) async throws {
        let server = try RedisServer()
        let redis = RedisClient(
            .init(
                url: RedisURL(host: "127.0.0.1", port: server.port),
                connectTimeout: .seconds(5),
                commandTimeout: .seconds(5),
                reconnectBackoff: .milliseconds(50)
            ),
            logger: Self.logger
        )
        defer { redis.shutdown() }
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(ProductService.migrations, logger: Self.logger).migrate(database)
            let store = InventoryStore(database: database)
            try await body(Inventory(store: store, cache: StockCache(redis: redis, prefix: "test:stock"), logger: Self.logger), server, redis)
        }
    }

    private func hotProduct(_ inventory: Inventory, stock: Int) async throws -> Int64 {
        let product = try await CatalogStore(database: inventory.store.database).create(
            NewProduct(sku: try SKU("HOT"), name: "Hot", price: try Money(amount: 999, currency: "EUR"), status: .active, lowStockThreshold: 0),
            at: Self.t0
        )
        _ = try await inventory.adjust(productID: product.id, by: stock, reason: "delivery", at: Self.t0)
        return product.id
    }

    /// `buyers` concurrent reservations of one unit: how many got one, and how many were
    /// told the product is out of stock.
    private func buy(_ inventory: Inventory, _ product: Int64, buyers: Range<Int>) async throws -> (won: Int, outOfStock: Int) {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for buyer in buyers {
                group.addTask {
                    do {
                        _ = try await inventory.reserve(
                            id: "order-\(buyer)",
                            lines: [ReservationLine(productID: product, quantity: 1)],
                            expiresAt: Self.t0.addingTimeInterval(600),
                            at: Self.t0
                        )
                        return true
                    } catch InventoryError.outOfStock {
                        return false
                    }
                }
            }
            let results = try await group.reduce(into: [Bool]()) { $0.append($1) }
            return (results.filter { $0 }.count, results.filter { !$0 }.count)
        }
    }

    @Test(arguments: kinds)
    func twoHundredBuyersOfFiftyUnitsThroughRedisGetExactlyFifty(_ kind: DatabaseKind) async throws {
        try await withInventory(kind) { inventory, _, redis in
            let product = try await hotProduct(inventory, stock: 50)
            let (won, refused) = try await buy(inventory, product, buyers: 0..<200)
            #expect(won == 50)
            #expect(refused == 150)
            let level = try await inventory.store.stock(of: product)
            #expect(level == StockLevel(onHand: 50, reserved: 50))
            #expect(try await inventory.store.ledgerTotals(of: product) == level)
            #expect(try await StockCache(redis: redis, prefix: "test:stock").available(product) == 0)
        }
    }

    @Test(arguments: kinds)
    func aRedisRestartInTheMiddleLosesNoUnitAndTheCountsReconcile(_ kind: DatabaseKind) async throws {
        try await withInventory(kind) { inventory, server, redis in
            let product = try await hotProduct(inventory, stock: 50)
            let first = try await buy(inventory, product, buyers: 0..<30)
            #expect(first.won == 30)
            // Redis restarts empty: the counts are rebuilt from the database on demand.
            server.stop()
            try server.start()
            var second = (won: 0, outOfStock: 0)
            for _ in 0..<50 {
                do {
                    second = try await buy(inventory, product, buyers: 30..<200)
                    break
                } catch {
                    // Until the client has reconnected; reservations that did go through are
                    // answered again by their ids on the next round.
                    try await Task.sleep(for: .milliseconds(100))
                }
            }
            let level = try await inventory.store.stock(of: product)
            #expect(level == StockLevel(onHand: 50, reserved: 50), "no unit was sold twice or lost")
            #expect(first.won + second.won == 50)
            #expect(try await inventory.store.ledgerTotals(of: product) == level)
            try await inventory.reconcile(productIDs: [product])
            #expect(try await StockCache(redis: redis, prefix: "test:stock").available(product) == level.available)
        }
    }

    @Test(arguments: kinds)
    func aCountThatDriftedLowIsPutRightByTheSweep(_ kind: DatabaseKind) async throws {
        try await withInventory(kind) { inventory, _, redis in
            let cache = StockCache(redis: redis, prefix: "test:stock")
            let hot = try await hotProduct(inventory, stock: 10)
            var others: [Int64] = []
            for sku in ["B", "C"] {
                others.append(
                    try await CatalogStore(database: inventory.store.database).create(
                        NewProduct(sku: try SKU(sku), name: sku, price: try Money(amount: 1, currency: "EUR"), status: .active),
                        at: Self.t0
                    ).id
                )
            }
            _ = try await inventory.reserve(
                id: "seeds-the-count",
                lines: [ReservationLine(productID: hot, quantity: 1)],
                expiresAt: Self.t0.addingTimeInterval(600),
                at: Self.t0
            )
            // A process took 4 units in Redis and died before the database heard of it.
            #expect(try await cache.take([ReservationLine(productID: hot, quantity: 4)]) == .taken)
            #expect(try await cache.available(hot) == 5)
            // Two products a sweep: the first stops after the second product, the next one
            // reaches the end and starts over.
            let next = try await inventory.reconcileSweep(after: 0, batch: 2)
            #expect(next == others[0])
            #expect(try await cache.available(hot) == 9, "the database's count")
            #expect(try await inventory.reconcileSweep(after: next, batch: 2) == 0)
            #expect(try await cache.available(others[1]) == nil, "a missing count is left to be rebuilt on demand")

            // A count that moves between the sweep's look at Redis and its write (a release,
            // an adjustment in flight) keeps the newer figure.
            let seen = try await cache.counts([hot])
            try await cache.give([ReservationLine(productID: hot, quantity: 1)])
            try await cache.reset([(hot, 9, seen[0])])
            #expect(try await cache.available(hot) == 10, "not overwritten with the older figure")

            // Units given back to a product without a count make none: a count of just those
            // units would be read as its stock.
            try await cache.give([ReservationLine(productID: others[1], quantity: 2), ReservationLine(productID: hot, quantity: 1)])
            #expect(try await cache.available(others[1]) == nil)
            #expect(try await cache.available(hot) == 11)
        }
    }

    @Test(arguments: kinds)
    func releasedAndExpiredUnitsReturnToTheCount(_ kind: DatabaseKind) async throws {
        try await withInventory(kind) { inventory, _, redis in
            let product = try await hotProduct(inventory, stock: 3)
            let cache = StockCache(redis: redis, prefix: "test:stock")
            let line = [ReservationLine(productID: product, quantity: 1)]
            _ = try await inventory.reserve(id: "a", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await inventory.reserve(id: "b", lines: line, expiresAt: Self.t0.addingTimeInterval(60), at: Self.t0)
            _ = try await inventory.reserve(id: "a", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            #expect(try await cache.available(product) == 1, "a retry takes nothing more")
            _ = try await inventory.release(id: "a", at: Self.t0)
            _ = try await inventory.release(id: "a", at: Self.t0)
            #expect(try await cache.available(product) == 2)
            #expect(try await inventory.expireReservations(now: Self.t0.addingTimeInterval(61)) == 1)
            #expect(try await cache.available(product) == 3)
            #expect(try await inventory.store.stock(of: product).available == 3)
        }
    }

    @Test(arguments: kinds)
    func restockedUnitsReturnToTheCountOnce(_ kind: DatabaseKind) async throws {
        try await withInventory(kind) { inventory, _, redis in
            let product = try await hotProduct(inventory, stock: 3)
            let cache = StockCache(redis: redis, prefix: "test:stock")
            let line = [ReservationLine(productID: product, quantity: 1)]
            _ = try await inventory.reserve(id: "paid", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await inventory.reserve(id: "held", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await inventory.commit(id: "paid", at: Self.t0)
            #expect(try await cache.available(product) == 1)

            #expect(try await inventory.restock(id: "paid", at: Self.t0).state == .returned)

            #expect(try await cache.available(product) == 2)
            _ = try await inventory.restock(id: "paid", at: Self.t0)
            #expect(try await cache.available(product) == 2, "a retried restock gives nothing more")
            await #expect(throws: InventoryError.conflict("Reservation held is held")) { try await inventory.restock(id: "held", at: Self.t0) }
            #expect(try await cache.available(product) == 2, "a refused restock gives nothing")
            let level = try await inventory.store.stock(of: product)
            #expect(level == StockLevel(onHand: 3, reserved: 1))
            #expect(try await inventory.store.ledgerTotals(of: product) == level)
        }
    }
}
