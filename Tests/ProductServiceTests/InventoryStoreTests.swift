import Foundation
import ProductAPI
import SQLKit
import TestSupport
import Testing

@testable import Platform
@testable import ProductService

/// Stock and reservations against real SQLite and PostgreSQL.
@Suite struct InventoryStoreTests {
    static let kinds = TestDatabases.kinds()
    static let t0 = Date(microsecondsSince1970: 1_764_065_700_000_000)

    private func withStore(_ kind: DatabaseKind, _ body: @Sendable (InventoryStore) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(ProductService.migrations, logger: TestDatabases.logger).migrate(database)
            try await body(InventoryStore(database: database))
        }
    }

    private func product(_ store: InventoryStore, _ sku: String, stock: Int, threshold: Int = 5) async throws -> Int64 {
        let product = try await CatalogStore(database: store.database).create(
            NewProduct(
                sku: try SKU(sku),
                name: "Thing \(sku)",
                price: try Money(amount: 1999, currency: "EUR"),
                status: .active,
                lowStockThreshold: threshold
            ),
            at: Self.t0
        )
        if stock > 0 { _ = try await store.adjust(productID: product.id, by: stock, reason: "delivery", at: Self.t0) }
        return product.id
    }

    private func lowStockEvents(_ store: InventoryStore) async throws -> [InventoryLowStock] {
        try await store.database.read { sql in
            try await sql.raw("SELECT envelope FROM outbox WHERE type = \(bind: InventoryLowStock.type) ORDER BY id").all().map { row in
                try EventEnvelope(decoding: Data(try row.decode(column: "envelope", as: String.self).utf8)).decode(InventoryLowStock.self)
            }
        }
    }

    /// The acceptance test of the issue: many buyers, few units, no oversell.
    @Test(arguments: kinds)
    func twoHundredConcurrentBuyersOfFiftyUnitsGetExactlyFifty(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "HOT-1", stock: 50)
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for buyer in 0..<200 {
                    group.addTask {
                        do {
                            _ = try await store.reserve(
                                id: "order-\(buyer)",
                                lines: [ReservationLine(productID: id, quantity: 1)],
                                expiresAt: Self.t0.addingTimeInterval(600),
                                at: Self.t0
                            )
                            return true
                        } catch InventoryError.outOfStock(let product) where product == id {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 50)
            #expect(outcomes.filter { !$0 }.count == 150)
            let level = try await store.stock(of: id)
            #expect(level == StockLevel(onHand: 50, reserved: 50))
            #expect(try await store.ledgerTotals(of: id) == level, "the ledger explains the counts")
        }
    }

    @Test(arguments: kinds)
    func aReservationIsAllOrNothingAndARetryHasNoSecondEffect(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let a = try await product(store, "A", stock: 10)
            let b = try await product(store, "B", stock: 1)
            let lines = [ReservationLine(productID: b, quantity: 2), ReservationLine(productID: a, quantity: 3)]
            await #expect(throws: InventoryError.outOfStock(productID: b)) {
                try await store.reserve(id: "r1", lines: lines, expiresAt: Self.t0.addingTimeInterval(60), at: Self.t0)
            }
            #expect(try await store.stock(of: a).reserved == 0, "nothing of A was kept")
            let ok = [ReservationLine(productID: b, quantity: 1), ReservationLine(productID: a, quantity: 3)]
            let first = try await store.reserve(id: "r2", lines: ok, expiresAt: Self.t0.addingTimeInterval(60), at: Self.t0)
            let retry = try await store.reserve(id: "r2", lines: ok, expiresAt: Self.t0.addingTimeInterval(60), at: Self.t0)
            #expect(first == retry)
            #expect(first.lines.map(\.productID) == [a, b].sorted())
            #expect(try await store.stock(of: a) == StockLevel(onHand: 10, reserved: 3))
            await #expect(throws: InventoryError.conflict("Reservation r2 exists with other lines")) {
                try await store.reserve(id: "r2", lines: [ReservationLine(productID: a, quantity: 1)], expiresAt: Self.t0, at: Self.t0)
            }
            await #expect(throws: InventoryError.self) {
                try await store.reserve(
                    id: "r3",
                    lines: [ReservationLine(productID: a, quantity: 1), ReservationLine(productID: a, quantity: 1)],
                    expiresAt: Self.t0,
                    at: Self.t0
                )
            }
            await #expect(throws: InventoryError.unknownProduct(productID: 999)) {
                try await store.reserve(id: "r4", lines: [ReservationLine(productID: 999, quantity: 1)], expiresAt: Self.t0, at: Self.t0)
            }
        }
    }

    @Test(arguments: kinds)
    func committedStockLeavesReleasedAndExpiredStockReturns(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "C", stock: 10)
            let line = [ReservationLine(productID: id, quantity: 2)]
            _ = try await store.reserve(id: "paid", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await store.reserve(id: "cancelled", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await store.reserve(id: "abandoned", lines: line, expiresAt: Self.t0.addingTimeInterval(60), at: Self.t0)
            #expect(try await store.stock(of: id) == StockLevel(onHand: 10, reserved: 6))

            #expect(try await store.commit(id: "paid", at: Self.t0).state == .committed)
            #expect(try await store.commit(id: "paid", at: Self.t0).state == .committed, "a retried commit is answered, not repeated")
            #expect(try await store.release(id: "cancelled", at: Self.t0).state == .released)
            await #expect(throws: InventoryError.conflict("Reservation paid is committed")) { try await store.release(id: "paid", at: Self.t0) }
            await #expect(throws: InventoryError.reservationNotFound(id: "nope")) { try await store.commit(id: "nope", at: Self.t0) }
            #expect(try await store.expireReservations(now: Self.t0.addingTimeInterval(30)).isEmpty)
            #expect(try await store.expireReservations(now: Self.t0.addingTimeInterval(61)).map(\.id) == ["abandoned"])
            await #expect(throws: InventoryError.conflict("Reservation abandoned is expired")) {
                try await store.commit(id: "abandoned", at: Self.t0)
            }

            let level = try await store.stock(of: id)
            #expect(level == StockLevel(onHand: 8, reserved: 0))
            #expect(try await store.ledgerTotals(of: id) == level)
        }
    }

    @Test(arguments: kinds)
    func restockingACommittedReservationReturnsItsUnitsOnHandOnce(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let a = try await product(store, "R1", stock: 10)
            let b = try await product(store, "R2", stock: 4)
            let lines = [ReservationLine(productID: a, quantity: 3), ReservationLine(productID: b, quantity: 1)]
            _ = try await store.reserve(id: "refunded", lines: lines, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await store.commit(id: "refunded", at: Self.t0)
            #expect(try await store.stock(of: a) == StockLevel(onHand: 7, reserved: 0))

            let returned = try await store.restock(id: "refunded", at: Self.t0)

            #expect(returned.state == .returned && returned.lines == lines)
            #expect(try await store.reservation(id: "refunded") == returned)
            #expect(try await store.restock(id: "refunded", at: Self.t0) == returned, "a retried restock is answered, not repeated")
            #expect(try await store.stock(of: a) == StockLevel(onHand: 10, reserved: 0))
            #expect(try await store.stock(of: b) == StockLevel(onHand: 4, reserved: 0))
            for product in [a, b] { #expect(try await store.ledgerTotals(of: product) == store.stock(of: product)) }
            let reasons = try await store.database.read { sql in
                try await sql.raw("SELECT reason FROM inventory_ledger WHERE reference = 'refunded' ORDER BY id").all(
                    decodingColumn: "reason",
                    as: String.self
                )
            }
            #expect(reasons == ["reserve", "reserve", "committed", "committed", "returned", "returned"])
            await #expect(throws: InventoryError.conflict("Reservation refunded is returned")) { try await store.commit(id: "refunded", at: Self.t0) }
            await #expect(throws: InventoryError.conflict("Reservation refunded is returned")) {
                try await store.release(id: "refunded", at: Self.t0)
            }
        }
    }

    @Test(arguments: kinds)
    func concurrentRestocksOfOneReservationReturnItsUnitsOnce(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "R3", stock: 5)
            _ = try await store.reserve(
                id: "refunded",
                lines: [ReservationLine(productID: id, quantity: 2)],
                expiresAt: Self.t0.addingTimeInterval(600),
                at: Self.t0
            )
            _ = try await store.commit(id: "refunded", at: Self.t0)

            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<10 {
                    group.addTask {
                        do {
                            _ = try await store.restock(id: "refunded", at: Self.t0)
                        } catch InventoryError.conflict {
                            // Lost the race to the restock that moved it; nothing was done.
                        }
                    }
                }
                try await group.waitForAll()
            }

            let level = try await store.stock(of: id)
            #expect(level == StockLevel(onHand: 5, reserved: 0))
            #expect(try await store.ledgerTotals(of: id) == level)
        }
    }

    @Test(arguments: kinds)
    func onlyACommittedReservationCanBeRestocked(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "R4", stock: 10)
            let line = [ReservationLine(productID: id, quantity: 2)]
            _ = try await store.reserve(id: "held", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await store.reserve(id: "released", lines: line, expiresAt: Self.t0.addingTimeInterval(600), at: Self.t0)
            _ = try await store.reserve(id: "expired", lines: line, expiresAt: Self.t0.addingTimeInterval(60), at: Self.t0)
            _ = try await store.release(id: "released", at: Self.t0)
            _ = try await store.expireReservations(now: Self.t0.addingTimeInterval(61))
            let before = try await store.stock(of: id)

            await #expect(throws: InventoryError.conflict("Reservation held is held")) { try await store.restock(id: "held", at: Self.t0) }
            await #expect(throws: InventoryError.conflict("Reservation released is released")) {
                try await store.restock(id: "released", at: Self.t0)
            }
            await #expect(throws: InventoryError.conflict("Reservation expired is expired")) { try await store.restock(id: "expired", at: Self.t0) }
            await #expect(throws: InventoryError.reservationNotFound(id: "nope")) { try await store.restock(id: "nope", at: Self.t0) }

            #expect(try await store.stock(of: id) == before)
            #expect(before == StockLevel(onHand: 10, reserved: 2))
            #expect(try await store.ledgerTotals(of: id) == before)
            #expect(try await store.reservation(id: "held")?.state == .held)
        }
    }

    @Test(arguments: kinds)
    func stockCannotBeAdjustedBelowWhatIsReserved(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "D", stock: 5)
            _ = try await store.reserve(
                id: "r",
                lines: [ReservationLine(productID: id, quantity: 4)],
                expiresAt: Self.t0.addingTimeInterval(60),
                at: Self.t0
            )
            await #expect(throws: InventoryError.conflict("Only 1 units are not reserved")) {
                try await store.adjust(productID: id, by: -2, reason: "breakage", at: Self.t0)
            }
            #expect(try await store.adjust(productID: id, by: -1, reason: "breakage", at: Self.t0) == StockLevel(onHand: 4, reserved: 4))
            await #expect(throws: ProductError.skuTaken) {
                try await CatalogStore(database: store.database).create(
                    NewProduct(sku: try SKU("d"), name: "Twin", price: try Money(amount: 1, currency: "EUR")),
                    at: Self.t0
                )
            }
        }
    }

    @Test(arguments: kinds)
    func fallingUnderTheThresholdPublishesLowStockOnce(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "E", stock: 7, threshold: 5)
            for order in 0..<4 {
                _ = try await store.reserve(
                    id: "o\(order)",
                    lines: [ReservationLine(productID: id, quantity: 1)],
                    expiresAt: Self.t0.addingTimeInterval(60),
                    at: Self.t0
                )
            }
            // 7 → 6 → 5 → 4 (crosses under 5) → 3.
            #expect(try await lowStockEvents(store) == [InventoryLowStock(productID: id, available: 4, threshold: 5)])
        }
    }

    /// The relay is woken by a transaction that wrote an event, and by no other.
    @Test(arguments: kinds)
    func onlyAChangeThatWroteAnEventWakesTheRelay(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let id = try await product(store, "W", stock: 7, threshold: 5)
            #expect(store.outbox.signal.isPending == false, "a delivery above the threshold writes no event")
            func reserve(_ reservation: String) async throws {
                _ = try await store.reserve(
                    id: reservation,
                    lines: [ReservationLine(productID: id, quantity: 1)],
                    expiresAt: Self.t0.addingTimeInterval(60),
                    at: Self.t0
                )
            }
            try await reserve("w1")
            _ = try await store.commit(id: "w1", at: Self.t0)
            try await reserve("w2")
            _ = try await store.release(id: "w2", at: Self.t0)
            _ = try await store.restock(id: "w1", at: Self.t0)
            #expect(store.outbox.signal.isPending == false, "7 → 6 and back: no event, no wake-up")
            try await reserve("w3")
            try await reserve("w4")
            #expect(store.outbox.signal.isPending == false, "6 → 5: still at the threshold")
            try await reserve("w5")
            #expect(store.outbox.signal.isPending == true, "5 → 4 crosses under it: the relay is woken")
            #expect(try await lowStockEvents(store).count == 1)
        }
    }

    @Test(arguments: kinds)
    func fullTextSearchMatchesEveryWordAsAPrefixAndFollowsRenames(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let catalog = CatalogStore(database: store.database)
            var ids: [String: Int64] = [:]
            for (sku, name, description) in [
                ("S1", "Linen shirt", "Breathes in summer"), ("S2", "Cotton shirt", "Soft"), ("P1", "Steel pan", "For the linen-loving cook"),
            ] {
                ids[sku] = try await CatalogStore(database: store.database).create(
                    NewProduct(
                        sku: try SKU(sku),
                        name: name,
                        description: description,
                        price: try Money(amount: 100, currency: "EUR"),
                        status: .active
                    ),
                    at: Self.t0
                ).id
            }
            func search(_ text: String) async throws -> Set<String> {
                let page = try await catalog.list(
                    ListQuery(pagination: .page(number: 1, perPage: 20), sort: SortOrder(.createdAt)),
                    statuses: [.active],
                    minPrice: nil,
                    maxPrice: nil,
                    search: try SearchQuery(text)
                )
                return Set(page.items.map(\.0.sku.value))
            }
            #expect(try await search("shirt") == ["S1", "S2"])
            #expect(try await search("lin") == ["S1", "P1"], "prefixes, in names and descriptions")
            #expect(try await search("Shirt, COTTON!") == ["S2"], "every word is required")
            #expect(try await search("velvet") == [])
            _ = try await catalog.update(id: ids["S2"]!, with: ProductChanges(name: "Velvet jacket"), expectedVersion: nil, at: Self.t0)
            #expect(try await search("velvet") == ["S2"])
            #expect(try await search("shirt") == ["S1"])
            #expect(throws: InvalidValue.self) { try SearchQuery("  !!! ") }
        }
    }

    @Test(arguments: kinds)
    func slugsAreUniqueAndMadeFromTheNameAttributesRoundTrip(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let catalog = CatalogStore(database: store.database)
            let price = try Money(amount: 100, currency: "EUR")
            let first = try await CatalogStore(database: store.database).create(
                NewProduct(sku: try SKU("MUG-1"), name: "Crème Mug, 350 ml!", price: price),
                at: Self.t0
            )
            #expect(first.slug.value == "creme-mug-350-ml")
            let second = try await CatalogStore(database: store.database).create(
                NewProduct(sku: try SKU("MUG-2"), name: "Creme mug 350 ML", price: price),
                at: Self.t0
            )
            #expect(second.slug.value == "creme-mug-350-ml-mug-2", "a taken name slug gets the SKU")
            await #expect(throws: ProductError.slugTaken) {
                try await CatalogStore(database: store.database).create(
                    NewProduct(sku: try SKU("MUG-3"), slug: try Slug("creme-mug-350-ml"), name: "Mug", price: price),
                    at: Self.t0
                )
            }
            let attributes = try ProductAttributes(["color": "blue", "volume_ml": "350"])
            let third = try await CatalogStore(database: store.database).create(
                NewProduct(sku: try SKU("MUG-3"), slug: try Slug("blue-mug"), name: "Mug", price: price, attributes: attributes),
                at: Self.t0
            )
            #expect(try await catalog.find(slug: "blue-mug")?.0 == third)
            #expect(try await catalog.find(id: third.id)?.0.attributes == attributes)
            await #expect(throws: ProductError.slugTaken) {
                try await catalog.update(id: first.id, with: ProductChanges(slug: try Slug("blue-mug")), expectedVersion: nil, at: Self.t0)
            }
            let renamed = try await catalog.update(
                id: first.id,
                with: ProductChanges(slug: try Slug("cream-mug"), attributes: ProductAttributes()),
                expectedVersion: 1,
                at: Self.t0
            )
            #expect(renamed.0.slug.value == "cream-mug" && renamed.0.version == 2)
            #expect(try await catalog.find(slug: "creme-mug-350-ml") == nil)
        }
    }

    @Test(arguments: kinds)
    func onlyActiveProductsCanBeReserved(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let catalog = CatalogStore(database: store.database)
            let id = try await product(store, "A", stock: 5)
            _ = try await catalog.update(id: id, with: ProductChanges(status: .archived), expectedVersion: nil, at: Self.t0)
            await #expect(throws: InventoryError.notForSale(productID: id)) {
                try await store.reserve(
                    id: "r",
                    lines: [ReservationLine(productID: id, quantity: 1)],
                    expiresAt: Self.t0.addingTimeInterval(60),
                    at: Self.t0
                )
            }
            #expect(try await store.stock(of: id) == StockLevel(onHand: 5, reserved: 0), "nothing was taken")
        }
    }

    @Test(arguments: kinds)
    func aCategoryMovesWithItsSubtreeNeverUnderItself(_ kind: DatabaseKind) async throws {
        try await withStore(kind) { store in
            let categories = CategoryStore(database: store.database)
            let catalog = CatalogStore(database: store.database)
            func make(_ slug: String, under parent: Int64?) async throws -> Category {
                try await categories.create(slug: try Slug(slug), name: slug, parentID: parent, at: Self.t0)
            }
            let home = try await make("home", under: nil)
            let kitchen = try await make("kitchen", under: home.id)
            let knives = try await make("knives", under: kitchen.id)
            let shop = try await make("shop", under: nil)
            let knife = try await CatalogStore(database: store.database).create(
                NewProduct(sku: try SKU("K1"), name: "Knife", price: try Money(amount: 1, currency: "EUR"), status: .active, categoryID: knives.id),
                at: Self.t0
            )
            func listed(_ category: Int64) async throws -> [Int64] {
                try await catalog.list(
                    ListQuery(pagination: .page(number: 1, perPage: 20), sort: SortOrder(.createdAt)),
                    statuses: [.active],
                    minPrice: nil,
                    maxPrice: nil,
                    category: category
                ).items.map(\.0.id)
            }
            #expect(try await listed(shop.id) == [])
            let moved = try #require(
                try await categories.update(id: kitchen.id, slug: try Slug("cooking"), name: "Cooking", parentID: .some(shop.id))
            )
            #expect(moved.path == "/\(shop.id)/\(kitchen.id)/" && moved.slug.value == "cooking" && moved.name == "Cooking")
            #expect(try await categories.find(id: knives.id)?.path == "/\(shop.id)/\(kitchen.id)/\(knives.id)/", "the subtree moved along")
            #expect(try await listed(shop.id) == [knife.id])
            #expect(try await listed(home.id) == [])
            await #expect(throws: CategoryError.cycle) { try await categories.update(id: shop.id, slug: nil, name: nil, parentID: .some(knives.id)) }
            await #expect(throws: CategoryError.cycle) { try await categories.update(id: shop.id, slug: nil, name: nil, parentID: .some(shop.id)) }
            await #expect(throws: CategoryError.slugTaken) {
                try await categories.update(id: shop.id, slug: try Slug("home"), name: nil, parentID: nil)
            }
            await #expect(throws: CategoryError.parentNotFound) {
                try await categories.update(id: shop.id, slug: nil, name: nil, parentID: .some(999))
            }
            let root = try #require(try await categories.update(id: knives.id, slug: nil, name: nil, parentID: .some(nil)))
            #expect(root.path == "/\(knives.id)/" && root.parentID == nil)
            #expect(try await categories.update(id: 999, slug: nil, name: "X", parentID: nil) == nil)
            // Seven levels under a root, then a two-level subtree that would make nine.
            var chain = try await make("l1", under: nil)
            for level in 2...7 { chain = try await make("l\(level)", under: chain.id) }
            let pair = try await make("p1", under: nil)
            _ = try await make("p2", under: pair.id)
            await #expect(throws: CategoryError.tooDeep) { try await categories.update(id: pair.id, slug: nil, name: nil, parentID: .some(chain.id)) }
        }
    }

    /// A popular product's stock row is every buyer's: a reservation writes all it writes
    /// before it updates that row, so it holds the row's lock only until its commit. Seen
    /// from PostgreSQL: while the row is held elsewhere, the waiting reservation has
    /// already written its reservation and its ledger line.
    @Test(.enabled(if: TestDatabases.postgresAvailable))
    func aReservationWaitsForTheStockRowOnlyAfterWritingTheRest() async throws {
        try await withStore(.postgres) { store in
            let id = try await product(store, "ROW-1", stock: 10)
            let (held, holding) = AsyncStream<Void>.makeStream()
            let (done, finish) = AsyncStream<Void>.makeStream()
            try await withThrowingTaskGroup(of: Void.self) { group in
                // The row is let go however this ends, so that a failure cannot hang the test.
                defer { finish.finish() }
                group.addTask {
                    defer { holding.finish() }
                    try await store.database.transaction { sql in
                        try await sql.raw("SELECT on_hand FROM inventory WHERE product_id = \(bind: id) FOR UPDATE").run()
                        holding.yield()
                        for await _ in done {}
                    }
                }
                for await _ in held { break }
                group.addTask {
                    _ = try await store.reserve(
                        id: "waits",
                        lines: [ReservationLine(productID: id, quantity: 2)],
                        expiresAt: Self.t0.addingTimeInterval(600),
                        at: Self.t0
                    )
                }
                var written: [String] = []
                // Up to 30 s: a loaded machine may take a while to get the reservation there.
                for _ in 0..<3_000 {
                    written = try await store.database.read { sql in
                        try await sql.raw(
                            """
                            SELECT l.relation::regclass::text AS name FROM pg_stat_activity a
                            JOIN pg_locks l ON l.pid = a.pid AND l.mode = 'RowExclusiveLock' AND l.granted
                            WHERE a.datname = current_database() AND a.wait_event_type = 'Lock' AND a.query LIKE 'UPDATE inventory%'
                            """
                        ).all().map { try $0.decode(column: "name", as: String.self) }
                    }
                    if !written.isEmpty { break }
                    try await Task.sleep(for: .milliseconds(10))
                }
                finish.finish()
                try await group.waitForAll()
                #expect(Set(["reservations", "reservation_lines", "inventory_ledger", "inventory"]).isSubset(of: Set(written)))
            }
            let level = try await store.stock(of: id)
            #expect(level.reserved == 2)
        }
    }

    @Test func domainValuesAreValidated() throws {
        #expect(try InventoryError.holdSeconds(.milliseconds(1)) == 1, "a started second counts")
        #expect(try InventoryError.holdSeconds(.seconds(86_400)) == 86_400)
        #expect(throws: InventoryError.self) { try InventoryError.holdSeconds(.zero) }
        #expect(throws: InventoryError.self) { try InventoryError.holdSeconds(.seconds(86_401)) }
        #expect(throws: InvalidValue.self) { try ProductText.name("Nul\u{0}byte") }
        #expect(throws: InvalidValue.self) { try ProductText.description("escape \u{1B}[31m") }
        #expect(try ProductText.description("two\nlines\tand a tab") == "two\nlines\tand a tab")
        #expect(Slug.derived(from: "  Ünïcode -- Shirt  ")?.value == "unicode-shirt")
        #expect(Slug.derived(from: "!!!") == nil)
        #expect(Slug.derived(from: String(repeating: "ab-", count: 50), maxLength: 10)?.value == "ab-ab-ab-a")
        #expect(throws: InvalidValue.self) { try ProductAttributes(["Color": "blue"]) }
        #expect(throws: InvalidValue.self) { try ProductAttributes(["color": " blue"]) }
        #expect(throws: InvalidValue.self) { try ProductAttributes(Dictionary(uniqueKeysWithValues: (0..<31).map { ("a\($0)", "x") })) }
        #expect(throws: InvalidValue.self) { try Money(amount: -1, currency: "EUR") }
        #expect(throws: InvalidValue.self) { try Money(amount: 1, currency: "eur") }
        #expect(try SKU("ab-12.x").value == "AB-12.X")
        #expect(throws: InvalidValue.self) { try SKU("with space") }
        #expect(ReservationRules.crossesLowStock(before: 5, after: 4, threshold: 5))
        #expect(!ReservationRules.crossesLowStock(before: 4, after: 3, threshold: 5))
    }
}
