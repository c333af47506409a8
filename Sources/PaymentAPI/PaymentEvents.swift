public import ServiceContract

/// The members every payment event carries.
public struct PaymentEventData: Sendable, Hashable, Codable {
    public var paymentID: String
    public var orderID: String
    public var customerID: Int64?
    public var amount: Int64
    public var currency: String
    public var status: PaymentStatus
    /// What has been captured so far (less than `amount` after a partial capture).
    public var amountCaptured: Int64

    public init(paymentID: String, orderID: String, customerID: Int64?, amount: Int64, currency: String, status: PaymentStatus, amountCaptured: Int64)
    {
        self.amountCaptured = amountCaptured
        self.paymentID = paymentID
        self.orderID = orderID
        self.customerID = customerID
        self.amount = amount
        self.currency = currency
        self.status = status
    }

    enum CodingKeys: String, CodingKey {
        case amount, currency, status
        case paymentID = "payment_id"
        case orderID = "order_id"
        case customerID = "customer_id"
        case amountCaptured = "amount_captured"
    }
}

/// `payment.authorized`: the money is held, waiting for a manual capture.
public struct PaymentAuthorized: DomainEvent, Hashable {
    public static let type = "payment.authorized"
    public var payment: PaymentEventData

    public init(_ payment: PaymentEventData) { self.payment = payment }
}

/// `payment.canceled`: an authorization was voided (by staff, or at its expiry); nothing is taken.
public struct PaymentCanceled: DomainEvent, Hashable {
    public static let type = "payment.canceled"
    public var payment: PaymentEventData

    public init(_ payment: PaymentEventData) { self.payment = payment }
}

/// `payment.completed`: the money was taken (`amount` is what was captured).
public struct PaymentCompleted: DomainEvent, Hashable {
    public static let type = "payment.completed"
    public var payment: PaymentEventData

    public init(_ payment: PaymentEventData) { self.payment = payment }
}

/// `payment.failed`: the provider declined the card.
public struct PaymentFailed: DomainEvent, Hashable {
    public static let type = "payment.failed"
    public var payment: PaymentEventData
    public var failure: PaymentFailure

    public init(_ payment: PaymentEventData, failure: PaymentFailure) {
        self.payment = payment
        self.failure = failure
    }
}

/// `payment.refunded`: part or all of a captured payment went back (`refund.amount`).
public struct PaymentRefunded: DomainEvent, Hashable {
    public static let type = "payment.refunded"
    public var payment: PaymentEventData
    public var refundID: String
    public var refundAmount: Int64
    public var amountRefunded: Int64

    public init(_ payment: PaymentEventData, refundID: String, refundAmount: Int64, amountRefunded: Int64) {
        self.payment = payment
        self.refundID = refundID
        self.refundAmount = refundAmount
        self.amountRefunded = amountRefunded
    }

    enum CodingKeys: String, CodingKey {
        case payment
        case refundID = "refund_id"
        case refundAmount = "refund_amount"
        case amountRefunded = "amount_refunded"
    }
}
