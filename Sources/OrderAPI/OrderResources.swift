public import Foundation
public import PaymentAPI
public import ServiceContract

/// Where an order stands. Checkout leaves it `confirmed`, `payment_failed` or `cancelled`
/// (or `pending` while the payment waits on the customer or the provider); staff move it on.
public enum OrderStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Written, with its lines and totals; stock and payment are being taken.
    case pending
    /// The card was declined; nothing was taken and the stock went back. A new checkout
    /// of the same cart may try another card.
    case paymentFailed = "payment_failed"
    /// Paid, and the stock is the order's.
    case confirmed
    case shipped
    case delivered
    /// Out of stock at checkout, interrupted before the charge, or cancelled after it
    /// (refunded, stock returned).
    case cancelled
    /// Everything that was paid was given back.
    case refunded
    /// Part of what was paid was given back.
    case partiallyRefunded = "partially_refunded"
}

/// A postal address to ship to.
public struct ShippingAddress: Codable, Sendable, Hashable {
    public var name: String?
    public var line1: String?
    public var line2: String?
    public var city: String?
    public var region: String?
    public var postalCode: String?
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    public var country: String?
    public var phone: String?

    public init(
        name: String,
        line1: String,
        line2: String? = nil,
        city: String,
        region: String? = nil,
        postalCode: String,
        country: String,
        phone: String? = nil
    ) {
        self.name = name
        self.line1 = line1
        self.line2 = line2
        self.city = city
        self.region = region
        self.postalCode = postalCode
        self.country = country
        self.phone = phone
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case name, line1, line2, city, region, country, phone
        case postalCode = "postal_code"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodeIfPresent(String.self, forKey: .name)
        line1 = try container.decodeIfPresent(String.self, forKey: .line1)
        line2 = try container.decodeIfPresent(String.self, forKey: .line2)
        city = try container.decodeIfPresent(String.self, forKey: .city)
        region = try container.decodeIfPresent(String.self, forKey: .region)
        postalCode = try container.decodeIfPresent(String.self, forKey: .postalCode)
        country = try container.decodeIfPresent(String.self, forKey: .country)
        phone = try container.decodeIfPresent(String.self, forKey: .phone)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(name, forKey: .name)
        try container.encode(line1, forKey: .line1)
        try container.encode(line2, forKey: .line2)
        try container.encode(city, forKey: .city)
        try container.encode(region, forKey: .region)
        try container.encode(postalCode, forKey: .postalCode)
        try container.encode(country, forKey: .country)
        try container.encode(phone, forKey: .phone)
    }
}

/// One line of an order: the product as it was sold, never as it is now.
public struct OrderLineResource: Codable, Sendable, Hashable {
    public var productID: Int64
    public var sku: String
    public var name: String
    public var quantity: Int
    public var unitPrice: Amount
    public var lineTotal: Amount

    public init(productID: Int64, sku: String, name: String, quantity: Int, unitPrice: Amount, lineTotal: Amount) {
        self.productID = productID
        self.sku = sku
        self.name = name
        self.quantity = quantity
        self.unitPrice = unitPrice
        self.lineTotal = lineTotal
    }

    enum CodingKeys: String, CodingKey {
        case sku, name, quantity
        case productID = "product_id"
        case unitPrice = "unit_price"
        case lineTotal = "line_total"
    }
}

/// A line checkout could not reserve: how many were wanted and how many were left.
public struct ShortLine: Codable, Sendable, Hashable {
    public var productID: Int64
    public var requested: Int
    public var available: Int

    public init(productID: Int64, requested: Int, available: Int) {
        self.productID = productID
        self.requested = requested
        self.available = available
    }

    enum CodingKeys: String, CodingKey {
        case requested, available
        case productID = "product_id"
    }
}

/// One step of an order's history: who moved it, when, why, in which request.
public struct OrderTransition: Codable, Sendable, Hashable {
    public var from: OrderStatus?
    public var to: OrderStatus
    /// The user who asked for it; `nil` for checkout as a guest and for the service itself.
    public var actorID: Int64?
    public var reason: String
    public var requestID: String?
    public var at: Date

    public init(from: OrderStatus?, to: OrderStatus, actorID: Int64?, reason: String, requestID: String?, at: Date) {
        self.from = from
        self.to = to
        self.actorID = actorID
        self.reason = reason
        self.requestID = requestID
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case from, to, reason, at
        case actorID = "actor_id"
        case requestID = "request_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(from, forKey: .from)
        try container.encode(to, forKey: .to)
        try container.encode(actorID, forKey: .actorID)
        try container.encode(reason, forKey: .reason)
        try container.encode(requestID, forKey: .requestID)
        try container.encode(at, forKey: .at)
    }
}

/// An order as the API shows it.
public struct OrderResource: Codable, Sendable, Hashable {
    public var id: String
    public var status: OrderStatus
    /// The customer who placed it; `nil` for a guest's order.
    public var customerID: Int64?
    /// The cart it was checked out from.
    public var cartID: String
    public var email: String
    public var locale: String
    public var lines: [OrderLineResource]
    public var itemCount: Int
    public var subtotal: Amount
    public var total: Amount
    public var amountRefunded: Amount
    public var shippingAddress: ShippingAddress
    public var paymentID: String?
    /// Why the card was declined (`payment_failed`).
    public var paymentFailure: PaymentFailure?
    /// Where the customer completes a step the card asks for (3-D Secure), while `pending`.
    public var nextActionURL: String?
    /// The lines that were short when checkout was refused for stock.
    public var shortLines: [ShortLine]
    public var trackingNumber: String?
    public var carrier: String?
    public var history: [OrderTransition]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String,
        status: OrderStatus,
        customerID: Int64?,
        cartID: String,
        email: String,
        locale: String,
        lines: [OrderLineResource],
        itemCount: Int,
        subtotal: Amount,
        total: Amount,
        amountRefunded: Amount,
        shippingAddress: ShippingAddress,
        paymentID: String?,
        paymentFailure: PaymentFailure?,
        nextActionURL: String?,
        shortLines: [ShortLine],
        trackingNumber: String?,
        carrier: String?,
        history: [OrderTransition],
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.status = status
        self.customerID = customerID
        self.cartID = cartID
        self.email = email
        self.locale = locale
        self.lines = lines
        self.itemCount = itemCount
        self.subtotal = subtotal
        self.total = total
        self.amountRefunded = amountRefunded
        self.shippingAddress = shippingAddress
        self.paymentID = paymentID
        self.paymentFailure = paymentFailure
        self.nextActionURL = nextActionURL
        self.shortLines = shortLines
        self.trackingNumber = trackingNumber
        self.carrier = carrier
        self.history = history
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, status, email, locale, lines, subtotal, total, carrier, history
        case customerID = "customer_id"
        case cartID = "cart_id"
        case itemCount = "item_count"
        case amountRefunded = "amount_refunded"
        case shippingAddress = "shipping_address"
        case paymentID = "payment_id"
        case paymentFailure = "payment_failure"
        case nextActionURL = "next_action_url"
        case shortLines = "short_lines"
        case trackingNumber = "tracking_number"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Encodes `nil` members as `null`, so every documented member is always present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(status, forKey: .status)
        try container.encode(customerID, forKey: .customerID)
        try container.encode(cartID, forKey: .cartID)
        try container.encode(email, forKey: .email)
        try container.encode(locale, forKey: .locale)
        try container.encode(lines, forKey: .lines)
        try container.encode(itemCount, forKey: .itemCount)
        try container.encode(subtotal, forKey: .subtotal)
        try container.encode(total, forKey: .total)
        try container.encode(amountRefunded, forKey: .amountRefunded)
        try container.encode(shippingAddress, forKey: .shippingAddress)
        try container.encode(paymentID, forKey: .paymentID)
        try container.encode(paymentFailure, forKey: .paymentFailure)
        try container.encode(nextActionURL, forKey: .nextActionURL)
        try container.encode(shortLines, forKey: .shortLines)
        try container.encode(trackingNumber, forKey: .trackingNumber)
        try container.encode(carrier, forKey: .carrier)
        try container.encode(history, forKey: .history)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// The body of `POST /api/v1/orders`: the caller's cart becomes an order.
public struct CheckoutRequest: JSONRequestBody, Encodable, Hashable {
    public var shippingAddress: ShippingAddress?
    /// Required for a guest; a signed-in customer's account address when left out.
    public var email: String?
    /// The language of the mails about the order (`en` when left out).
    public var locale: String?
    public var paymentMethod: PaymentMethodBody?

    public init(shippingAddress: ShippingAddress, email: String? = nil, locale: String? = nil, paymentMethod: PaymentMethodBody) {
        self.shippingAddress = shippingAddress
        self.email = email
        self.locale = locale
        self.paymentMethod = paymentMethod
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case email, locale
        case shippingAddress = "shipping_address"
        case paymentMethod = "payment_method"
    }
}

/// The body of `POST /api/v1/orders/{id}/ship`.
public struct ShipRequest: JSONRequestBody, Encodable, Hashable {
    public var trackingNumber: String?
    public var carrier: String?

    public init(trackingNumber: String, carrier: String? = nil) {
        self.trackingNumber = trackingNumber
        self.carrier = carrier
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case carrier
        case trackingNumber = "tracking_number"
    }
}

/// The body of `POST /api/v1/orders/{id}/cancel`.
public struct CancelRequest: JSONRequestBody, Encodable, Hashable {
    public var reason: String?

    public init(reason: String) { self.reason = reason }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case reason
    }
}
