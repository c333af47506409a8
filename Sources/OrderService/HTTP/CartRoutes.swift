import Foundation
import Hummingbird
import OrderAPI
import Platform

/// `/api/v1/carts` and `/api/v1/cart`: a signed-in customer's cart, or a guest's opened by
/// `X-Cart-Token`; merged into the customer's at login.
struct CartRoutes: Sendable {
    let carts: Carts

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        group.post("carts", use: create)
        let cart = group.group("cart")
        cart.get(use: show)
        cart.put("lines/{product_id}", use: setLine)
        cart.delete("lines/{product_id}", use: removeLine)
        cart.post("merge", use: merge)
    }

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decodeIfPresent(NewCartRequest.self, from: request, limit: Self.maxNewCartBytes)
        let lines = try Self.checked(body?.lines ?? [])
        let made = try await carts.createGuest(lines: lines)
        return try JSONResponse.success(
            try await carts.resource(made.cart, token: made.token, known: made.products),
            status: .created,
            headers: Self.privateCache
        )
    }

    /// Room for a full cart's lines, and no more.
    static let maxNewCartBytes = 16 * 1024

    /// The lines of a new cart, each in range (``CartRules/firstLines(_:)`` says what a
    /// product given twice becomes).
    static func checked(_ lines: [NewCartLine]) throws(APIError) -> [Cart.Line] {
        guard lines.count <= CartRules.maxLines else {
            throw .validation("A cart holds at most \(CartRules.maxLines) products", field: "lines")
        }
        var problems: [Problem] = []
        for (index, line) in lines.enumerated() {
            if line.productID < 1 {
                problems.append(Problem(.validationError, "Must be a product's id", field: "lines[\(index)].product_id"))
            }
            if !(1...CartRules.maxQuantity).contains(line.quantity) {
                problems.append(Problem(.validationError, "Must be from 1 to \(CartRules.maxQuantity)", field: "lines[\(index)].quantity"))
            }
        }
        guard problems.isEmpty else { throw APIError(problems) }
        return CartRules.firstLines(lines.map { Cart.Line(productID: $0.productID, quantity: $0.quantity) })
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        try JSONResponse.success(try await carts.resource(try await cart(for: request, context: context)), headers: Self.privateCache)
    }

    @Sendable func setLine(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let productID = try context.parameters.resourceID("product_id")
        let body = try await JSONBody.decode(CartLineRequest.self, from: request)
        var validation = Validation()
        let quantity = validation.required("quantity", body.quantity) { (quantity: Int) throws(InvalidValue) in
            guard (1...CartRules.maxQuantity).contains(quantity) else { throw InvalidValue("Must be from 1 to \(CartRules.maxQuantity)") }
            return quantity
        }
        let (units) = try validation.check(quantity)
        let cart = try await carts.setLine(try await cart(for: request, context: context), productID: productID, quantity: units)
        return try JSONResponse.success(try await carts.resource(cart), headers: Self.privateCache)
    }

    @Sendable func removeLine(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let productID = try context.parameters.resourceID("product_id")
        let current = try await cart(for: request, context: context)
        let cart = try await carts.store.removeLine(current.id, productID: productID, at: carts.now())
        return try JSONResponse.success(try await carts.resource(cart), headers: Self.privateCache)
    }

    @Sendable func merge(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        guard let presented = try Self.presentedToken(request) else {
            throw APIError.validation("Is required: the guest cart to merge", field: "X-Cart-Token")
        }
        guard let token = CartToken(presented: presented) else { throw CartError.notFound }
        let cart = try await carts.merge(guest: token, into: principal.userID)
        return try JSONResponse.success(try await carts.resource(cart), headers: Self.privateCache)
    }

    /// The caller's cart: a signed-in caller's own, else the guest cart of `X-Cart-Token`.
    func cart(for request: Request, context: ShopRequestContext) async throws -> Cart {
        let presented = try Self.presentedToken(request)
        if let principal = context.principal { return try await carts.store.customerCart(principal.userID, at: carts.now()) }
        guard let presented else {
            throw APIError(.unauthenticated, "Sign in, or send the X-Cart-Token of a guest cart (POST /api/v1/carts makes one)")
        }
        guard let token = CartToken(presented: presented), let cart = try await carts.store.guestCart(token) else { throw CartError.notFound }
        return cart
    }
}

extension CartRoutes {
    /// `X-Cart-Token` when sent: 1 to 128 characters, whoever sends it (a signed-in caller's
    /// is not used, but is not let through malformed either).
    static func presentedToken(_ request: Request) throws(APIError) -> String? {
        guard let value = request.headers[.xCartToken] else { return nil }
        guard (1...128).contains(value.utf8.count) else { throw .validation("Must be 1 to 128 characters", field: "X-Cart-Token") }
        return value
    }
}

extension CartError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .notFound: .notFound("Cart")
        case .unknownProduct(let id): .notFound("Product \(id)")
        case .notForSale(let id): APIError(.conflict, "Product \(id) is not for sale")
        case .tooManyLines: APIError(.conflict, "A cart holds at most \(CartRules.maxLines) products")
        case .otherCurrency(let product, let currency, let cart):
            APIError(.conflict, "Product \(product) is priced in \(currency); this cart is in \(cart)")
        case .notMergeable(let message): APIError(.conflict, message)
        case .checkingOut(let orderID): APIError(.conflict, "The cart is being checked out as order \(orderID); it changes when that ends")
        }
    }
}
