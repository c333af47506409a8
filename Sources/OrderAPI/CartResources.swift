public import Foundation
public import ServiceContract

/// Money in minor units of a currency.
public struct Amount: Codable, Sendable, Hashable {
    public var amount: Int64
    public var currency: String

    public init(amount: Int64, currency: String) {
        self.amount = amount
        self.currency = currency
    }
}

/// One line of a cart, read with the product as it is now.
public struct CartLineResource: Codable, Sendable, Hashable {
    /// Why a line cannot be bought as it stands.
    public enum Problem: String, Codable, Sendable, Hashable {
        /// No longer sold (or gone from the catalog).
        case archived
        /// None available.
        case soldOut = "sold_out"
        /// Fewer available than the line asks for (`available` says how many).
        case insufficientStock = "insufficient_stock"
    }

    public var productID: Int64
    public var sku: String
    public var name: String
    public var quantity: Int
    /// The price now: a cart never keeps a price, and never takes one from a client.
    public var unitPrice: Amount
    public var lineTotal: Amount
    public var available: Int
    public var problem: Problem?

    public init(productID: Int64, sku: String, name: String, quantity: Int, unitPrice: Amount, lineTotal: Amount, available: Int, problem: Problem?) {
        self.productID = productID
        self.sku = sku
        self.name = name
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.lineTotal = lineTotal
        self.available = available
        self.problem = problem
    }

    enum CodingKeys: String, CodingKey {
        case sku, name, quantity, available, problem
        case productID = "product_id"
        case unitPrice = "unit_price"
        case lineTotal = "line_total"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(productID, forKey: .productID)
        try container.encode(sku, forKey: .sku)
        try container.encode(name, forKey: .name)
        try container.encode(quantity, forKey: .quantity)
        try container.encode(unitPrice, forKey: .unitPrice)
        try container.encode(lineTotal, forKey: .lineTotal)
        try container.encode(available, forKey: .available)
        try container.encode(problem, forKey: .problem)
    }
}

/// A cart as the API shows it.
public struct CartResource: Codable, Sendable, Hashable {
    public var id: String
    /// The signed-in owner; `nil` for a guest cart.
    public var customerID: Int64?
    public var lines: [CartLineResource]
    /// The sum of the lines at today's prices; `nil` while the cart is empty.
    public var subtotal: Amount?
    public var itemCount: Int
    /// Whether every line can be bought as it stands.
    public var checkoutReady: Bool
    /// Present once, in the answer that created a guest cart: the secret to send as
    /// `X-Cart-Token`. It is stored hashed and cannot be shown again.
    public var cartToken: String?
    public var updatedAt: Date

    public init(
        id: String,
        customerID: Int64?,
        lines: [CartLineResource],
        subtotal: Amount?,
        itemCount: Int,
        checkoutReady: Bool,
        cartToken: String?,
        updatedAt: Date
    ) {
        self.id = id
        self.customerID = customerID
        self.lines = lines
        self.subtotal = subtotal
        self.itemCount = itemCount
        self.checkoutReady = checkoutReady
        self.cartToken = cartToken
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, lines, subtotal
        case customerID = "customer_id"
        case itemCount = "item_count"
        case checkoutReady = "checkout_ready"
        case cartToken = "cart_token"
        case updatedAt = "updated_at"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(customerID, forKey: .customerID)
        try container.encode(lines, forKey: .lines)
        try container.encode(subtotal, forKey: .subtotal)
        try container.encode(itemCount, forKey: .itemCount)
        try container.encode(checkoutReady, forKey: .checkoutReady)
        try container.encodeIfPresent(cartToken, forKey: .cartToken)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// The body of `PUT /api/v1/cart/lines/{product_id}`.
public struct CartLineRequest: JSONRequestBody, Encodable, Hashable {
    public var quantity: Int?

    public init(quantity: Int) { self.quantity = quantity }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case quantity
    }
}

/// The optional body of `POST /api/v1/carts`: the new cart's first lines, so that a
/// storefront's first "add to cart" is one request, not two.
public struct NewCartRequest: JSONRequestBody, Encodable, Hashable {
    public var lines: [NewCartLine]?

    public init(lines: [NewCartLine]) { self.lines = lines }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case lines
    }

    /// `lines` may be left out, never `null`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        lines = container.contains(.lines) ? try container.decode([NewCartLine].self, forKey: .lines) : nil
    }
}

/// One line of ``NewCartRequest``.
public struct NewCartLine: Codable, Sendable, Hashable {
    public var productID: Int64
    public var quantity: Int

    public init(productID: Int64, quantity: Int) {
        self.productID = productID
        self.quantity = quantity
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case productID = "product_id"
        case quantity
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        productID = try container.decode(Int64.self, forKey: .productID)
        quantity = try container.decode(Int.self, forKey: .quantity)
    }
}
