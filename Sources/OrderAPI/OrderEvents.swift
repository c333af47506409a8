public import ServiceContract

/// What every order event carries: enough for Notifications to write to the customer
/// (address, language, lines, totals) without calling anyone.
public struct OrderEventData: Sendable, Hashable, Codable {
    public var orderID: String
    public var status: OrderStatus
    public var customerID: Int64?
    public var email: String
    public var locale: String
    public var lines: [OrderLineResource]
    public var subtotal: Amount
    public var total: Amount
    public var amountRefunded: Amount
    public var trackingNumber: String?
    public var carrier: String?
    /// Why it happened, for `order.cancelled` and `order.refunded`.
    public var reason: String?

    public init(
        orderID: String,
        status: OrderStatus,
        customerID: Int64?,
        email: String,
        locale: String,
        lines: [OrderLineResource],
        subtotal: Amount,
        total: Amount,
        amountRefunded: Amount,
        trackingNumber: String?,
        carrier: String?,
        reason: String?
    ) {
        self.orderID = orderID
        self.status = status
        self.customerID = customerID
        self.email = email
        self.locale = locale
        self.lines = lines
        self.subtotal = subtotal
        self.total = total
        self.amountRefunded = amountRefunded
        self.trackingNumber = trackingNumber
        self.carrier = carrier
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case status, email, locale, lines, subtotal, total, carrier, reason
        case orderID = "order_id"
        case customerID = "customer_id"
        case amountRefunded = "amount_refunded"
        case trackingNumber = "tracking_number"
    }
}

/// `order.created`: written `pending` with its lines and totals, in the same transaction.
public struct OrderCreated: DomainEvent, Hashable {
    public static let type = "order.created"
    public var order: OrderEventData
    public init(_ order: OrderEventData) { self.order = order }
}

/// `order.confirmed`: paid, and the stock is the order's.
public struct OrderConfirmed: DomainEvent, Hashable {
    public static let type = "order.confirmed"
    public var order: OrderEventData
    public init(_ order: OrderEventData) { self.order = order }
}

/// `order.cancelled`: out of stock at checkout, interrupted, or cancelled after payment.
public struct OrderCancelled: DomainEvent, Hashable {
    public static let type = "order.cancelled"
    public var order: OrderEventData
    public init(_ order: OrderEventData) { self.order = order }
}

/// `order.shipped`, with the tracking number.
public struct OrderShipped: DomainEvent, Hashable {
    public static let type = "order.shipped"
    public var order: OrderEventData
    public init(_ order: OrderEventData) { self.order = order }
}

/// `order.delivered`.
public struct OrderDelivered: DomainEvent, Hashable {
    public static let type = "order.delivered"
    public var order: OrderEventData
    public init(_ order: OrderEventData) { self.order = order }
}

/// `order.refunded`: all (`refunded`) or part (`partially_refunded`) of the payment went back.
public struct OrderRefunded: DomainEvent, Hashable {
    public static let type = "order.refunded"
    public var order: OrderEventData
    public init(_ order: OrderEventData) { self.order = order }
}
