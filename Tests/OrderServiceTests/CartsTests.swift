import Foundation
import OrderAPI
import Platform
import ProductAPI
import SQLKit
import Synchronization
import TestSupport
import Testing

@testable import OrderService

/// A catalog of a few products whose stock and status a test changes.
final class StubCatalog: CatalogClient, Sendable {
    let products: Mutex<[Int64: CatalogProduct]>

    init(_ products: [CatalogProduct]) {
        self.products = Mutex(Dictionary(uniqueKeysWithValues: products.map { ($0.id, $0) }))
    }

    func products(ids: [Int64]) async throws -> [CatalogProduct] {
        products.withLock { all in ids.compactMap { all[$0] } }
    }

    func set(_ id: Int64, available: Int? = nil, status: CatalogProduct.Status? = nil) {
        products.withLock { all in
            if let available { all[id]?.available = available }
            if let status { all[id]?.status = status }
        }
    }
}

/// Carts against real SQLite and PostgreSQL.
@Suite struct CartsTests {
    static let kinds = TestDatabases.kinds()

    static func product(_ id: Int64, price: Int64, available: Int, currency: String = "EUR") -> CatalogProduct {
        CatalogProduct(id: id, sku: "SKU-\(id)", name: "Thing \(id)", price: price, currency: currency, status: .active, available: available)
    }

    private func with(_ kind: DatabaseKind, _ body: @Sendable (Carts, StubCatalog) async throws -> Void) async throws {
        try await TestDatabases.with(kind) { (database: any Database) async throws in
            try await Migrator(OrderService.migrations, logger: TestDatabases.logger).migrate(database)
            let catalog = StubCatalog([
                Self.product(1, price: 1000, available: 2), Self.product(2, price: 250, available: 10), Self.product(3, price: 99, available: 5),
                Self.product(4, price: 500, available: 5, currency: "USD"),
            ])
            try await body(Carts(store: CartStore(database: database), catalog: catalog, now: { Date() }), catalog)
        }
    }

    @Test(arguments: kinds)
    func aGuestCartOpensOnlyWithItsTokenAndShowsTodaysPrices(_ kind: DatabaseKind) async throws {
        try await with(kind) { carts, catalog in
            let (cart, token) = try await carts.store.createGuest(at: Date())
            #expect(try await carts.store.guestCart(token)?.id == cart.id)
            let forged = try #require(CartToken(presented: "\(cart.id).\(String(repeating: "A", count: 43))"))
            #expect(try await carts.store.guestCart(forged) == nil)
            #expect(CartToken(presented: "cart_x.secret") == nil)
            var filled = try await carts.setLine(cart, productID: 1, quantity: 2)
            filled = try await carts.setLine(filled, productID: 2, quantity: 3)
            var shown = try await carts.resource(filled)
            #expect(shown.subtotal == Amount(amount: 2 * 1000 + 3 * 250, currency: "EUR"))
            #expect(shown.itemCount == 5)
            #expect(shown.checkoutReady)
            #expect(shown.cartToken == nil, "the token is shown once, when the cart is made")
            // The price and stock shown are today's; problems are flagged on their line.
            catalog.set(1, available: 1)
            catalog.set(2, status: .archived)
            shown = try await carts.resource(filled)
            #expect(shown.lines.map(\.problem) == [.insufficientStock, .archived])
            #expect(!shown.checkoutReady)
            catalog.set(1, available: 0)
            #expect(try await carts.resource(filled).lines.first?.problem == .soldOut)
            // Another currency, an unknown or archived product: refused.
            await #expect(throws: CartError.self) { _ = try await carts.setLine(filled, productID: 4, quantity: 1) }
            await #expect(throws: CartError.unknownProduct(99)) { _ = try await carts.setLine(filled, productID: 99, quantity: 1) }
            await #expect(throws: CartError.notForSale(2)) { _ = try await carts.setLine(filled, productID: 2, quantity: 1) }
            let removed = try await carts.store.removeLine(cart.id, productID: 2, at: Date())
            #expect(removed.lines.map(\.productID) == [1])
        }
    }

    @Test(arguments: kinds)
    func racingFirstReadsOfACustomersCartMakeOne(_ kind: DatabaseKind) async throws {
        try await with(kind) { carts, _ in
            let ids = try await withThrowingTaskGroup(of: String.self) { group in
                for _ in 0..<10 { group.addTask { try await carts.store.customerCart(7, at: Date()).id } }
                return try await group.reduce(into: Set<String>()) { $0.insert($1) }
            }
            #expect(ids.count == 1)
        }
    }

    /// The issue's acceptance case: a guest cart merged into a non-empty customer cart.
    @Test(arguments: kinds)
    func aGuestCartMergesIntoANonEmptyCustomerCartOnce(_ kind: DatabaseKind) async throws {
        try await with(kind) { carts, _ in
            let (guest, token) = try await carts.store.createGuest(at: Date())
            _ = try await carts.setLine(guest, productID: 1, quantity: 2)
            _ = try await carts.setLine(try #require(try await carts.store.guestCart(token)), productID: 2, quantity: 1)
            let mine = try await carts.store.customerCart(7, at: Date())
            _ = try await carts.setLine(mine, productID: 1, quantity: 1)
            _ = try await carts.setLine(try await carts.store.customerCart(7, at: Date()), productID: 3, quantity: 3)
            // Eight merges at once, as a double-clicked login might send: applied once.
            let results = try await withThrowingTaskGroup(of: [Cart.Line].self) { group in
                for _ in 0..<8 { group.addTask { try await carts.merge(guest: token, into: 7).lines } }
                return try await group.reduce(into: [[Cart.Line]]()) { $0.append($1) }
            }
            let merged = try await carts.store.customerCart(7, at: Date())
            let quantities = Dictionary(uniqueKeysWithValues: merged.lines.map { ($0.productID, $0.quantity) })
            // Product 1: 1 + 2 capped at the 2 available; product 2 moved; product 3 kept.
            #expect(quantities == [1: 2, 2: 1, 3: 3])
            #expect(results.allSatisfy { Set($0.map(\.productID)) == [1, 2, 3] })
            #expect(try await carts.store.guestCart(token) == nil, "the guest cart is closed")
            // Another customer cannot take the merged cart.
            await #expect(throws: CartError.notFound) { _ = try await carts.merge(guest: token, into: 8) }
        }
    }

    @Test(arguments: kinds)
    func aCartHoldsAtMostFiftyProductsAndIdleGuestCartsArePurged(_ kind: DatabaseKind) async throws {
        try await with(kind) { carts, _ in
            let (cart, token) = try await carts.store.createGuest(at: Date(timeIntervalSinceNow: -40 * 86_400))
            for product in 1...CartRules.maxLines {
                _ = try await carts.store.setLine(cart.id, productID: Int64(product + 100), quantity: 1, at: Date(timeIntervalSinceNow: -40 * 86_400))
            }
            await #expect(throws: CartError.tooManyLines) {
                _ = try await carts.store.setLine(cart.id, productID: 999, quantity: 1, at: Date(timeIntervalSinceNow: -40 * 86_400))
            }
            let (fresh, freshToken) = try await carts.store.createGuest(at: Date())
            #expect(try await carts.store.purgeGuestCarts(idleSince: Date(timeIntervalSinceNow: -30 * 86_400)) == 1)
            #expect(try await carts.store.guestCart(token) == nil)
            #expect(try await carts.store.guestCart(freshToken)?.id == fresh.id)
        }
    }
}

/// The rules of carts' lines, without I/O.
@Suite struct CartRulesTests {
    @Test func aProductGivenTwiceKeepsItsFirstPlaceAndItsLastQuantity() {
        let given = [
            Cart.Line(productID: 7, quantity: 1), Cart.Line(productID: 3, quantity: 2),
            Cart.Line(productID: 7, quantity: 5), Cart.Line(productID: 9, quantity: 1), Cart.Line(productID: 3, quantity: 4),
        ]
        #expect(
            CartRules.firstLines(given) == [
                Cart.Line(productID: 7, quantity: 5), Cart.Line(productID: 3, quantity: 4), Cart.Line(productID: 9, quantity: 1),
            ]
        )
        #expect(CartRules.firstLines([]) == [])
        #expect(CartRules.firstLines([Cart.Line(productID: 1, quantity: 99)]) == [Cart.Line(productID: 1, quantity: 99)])
    }

    @Test func aProductGoesIntoACartWhenItExistsIsForSaleAndInTheCartsCurrency() throws {
        let mug = CatalogProduct(id: 4, sku: "mug", name: "Mug", price: 900, currency: "EUR", status: .active, available: 3)
        #expect(try CartRules.sellable(4, mug, cartCurrency: nil) == mug)
        #expect(try CartRules.sellable(4, mug, cartCurrency: "EUR") == mug)
        #expect(throws: CartError.unknownProduct(4)) { try CartRules.sellable(4, nil, cartCurrency: "EUR") }
        var archived = mug
        archived.status = .archived
        #expect(throws: CartError.notForSale(4)) { try CartRules.sellable(4, archived, cartCurrency: "USD") }
        #expect(throws: CartError.otherCurrency(product: 4, currency: "EUR", cart: "USD")) { try CartRules.sellable(4, mug, cartCurrency: "USD") }
    }
}
