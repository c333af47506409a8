import Foundation
import OrderAPI
import ProductAPI

/// Carts read with the catalog as it is now: names, prices and stock come from Products
/// on every read, never from the client and never from the cart.
struct Carts: Sendable {
    let store: CartStore
    let catalog: any CatalogClient
    let now: @Sendable () -> Date

    /// `cart` with every line's current product, price and availability, and its totals.
    /// `known`: the cart's products as just read, instead of asking the catalog again.
    func resource(_ cart: Cart, token: CartToken? = nil, known: [CatalogProduct]? = nil) async throws -> CartResource {
        let products: [CatalogProduct]
        if let known { products = known } else { products = try await catalog.products(ids: cart.lines.map(\.productID)) }
        let byID = Dictionary(products.map { ($0.id, $0) }) { first, _ in first }
        var lines: [CartLineResource] = []
        var subtotal: Amount?
        var items = 0
        for line in cart.lines {
            let product = byID[line.productID]
            let currency = product?.currency ?? subtotal?.currency ?? "EUR"
            let price = product?.price ?? 0
            let problem: CartLineResource.Problem? =
                switch product {
                case nil: .archived
                case let product? where product.status != .active: .archived
                case let product? where product.available == 0: .soldOut
                case let product? where product.available < line.quantity: .insufficientStock
                default: nil
                }
            lines.append(
                CartLineResource(
                    productID: line.productID,
                    sku: product?.sku ?? "",
                    name: product?.name ?? "",
                    quantity: line.quantity,
                    unitPrice: Amount(amount: price, currency: currency),
                    lineTotal: Amount(amount: price * Int64(line.quantity), currency: currency),
                    available: product?.available ?? 0,
                    problem: problem
                )
            )
            items += line.quantity
            if product != nil {
                subtotal = Amount(amount: (subtotal?.amount ?? 0) + price * Int64(line.quantity), currency: currency)
            }
        }
        return CartResource(
            id: cart.id,
            customerID: cart.customerID,
            lines: lines,
            subtotal: subtotal,
            itemCount: items,
            checkoutReady: !lines.isEmpty && lines.allSatisfy { $0.problem == nil },
            cartToken: token?.value,
            updatedAt: cart.updatedAt
        )
    }

    /// A new guest cart holding `lines` (valid in shape, each product once). Every product
    /// must exist and be for sale, all in one currency, as ``setLine(_:productID:quantity:)``
    /// asks of each; more than is available is kept and flagged. Answers the products read.
    func createGuest(lines: [Cart.Line]) async throws -> (cart: Cart, token: CartToken, products: [CatalogProduct]) {
        var products: [CatalogProduct] = []
        if !lines.isEmpty {
            products = try await catalog.products(ids: lines.map(\.productID))
            let byID = Dictionary(products.map { ($0.id, $0) }) { first, _ in first }
            var currency: String?
            for line in lines {
                currency = try CartRules.sellable(line.productID, byID[line.productID], cartCurrency: currency).currency
            }
        }
        let (cart, token) = try await store.createGuest(lines: lines, at: now())
        return (cart, token, products)
    }

    /// Sets how many units of `productID` the cart holds. The product must exist and be
    /// for sale, in the cart's currency; more than is available is kept and flagged.
    func setLine(_ cart: Cart, productID: Int64, quantity: Int) async throws -> Cart {
        // The product, and one other of the cart's for its currency, in one read.
        let other = cart.lines.map(\.productID).first { $0 != productID }
        let found = try await catalog.products(ids: [productID] + (other.map { [$0] } ?? []))
        let byID = Dictionary(found.map { ($0.id, $0) }) { first, _ in first }
        _ = try CartRules.sellable(productID, byID[productID], cartCurrency: other.flatMap { byID[$0]?.currency })
        return try await store.setLine(cart.id, productID: productID, quantity: quantity, at: now())
    }

    /// Moves a guest cart into the customer's: see ``CartStore/merge(guest:into:cap:at:)``;
    /// each product is capped by what is available now (at least one unit stays, flagged).
    func merge(guest token: CartToken, into customerID: Int64) async throws -> Cart {
        guard let guest = try await store.guestCart(token) else {
            // Already merged into this customer's cart: the merge is answered again.
            return try await store.merge(guest: token, into: customerID, cap: { _, limit in limit }, at: now())
        }
        let customer = try await store.customerCart(customerID, at: now())
        let ids = Array(Set(guest.lines.map(\.productID) + customer.lines.map(\.productID)))
        let available = Dictionary(try await catalog.products(ids: ids).map { ($0.id, $0.available) }) { first, _ in first }
        return try await store.merge(
            guest: token,
            into: customerID,
            cap: { product, limit in min(limit, max(1, available[product] ?? 1)) },
            at: now()
        )
    }
}
