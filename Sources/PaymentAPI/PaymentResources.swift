public import Foundation
public import ServiceContract

/// Where a payment stands, modelled on Stripe's PaymentIntent.
public enum PaymentStatus: String, Sendable, Hashable, Codable, CaseIterable {
    /// Waiting for a card (after a decline, another one may be tried).
    case requiresPaymentMethod = "requires_payment_method"
    /// The customer must act (3-D Secure); the provider reports the outcome later.
    case requiresAction = "requires_action"
    /// Sent to the provider, whose answer is not known yet.
    case processing
    /// Authorized, waiting for a manual capture (or its void).
    case requiresCapture = "requires_capture"
    /// Money taken (refunds may follow).
    case succeeded
    /// Nothing taken: voided before capture, or abandoned.
    case canceled
    /// The last attempt was declined; another card may be tried with a new key.
    case failed
}

/// When an authorization becomes a charge.
public enum CaptureMethod: String, Sendable, Hashable, Codable, CaseIterable {
    /// Captured as soon as it is authorized.
    case automatic
    /// Authorized now, captured (fully, partly, or not at all) later.
    case manual
}

/// What may be shown of a card: never its number or code.
public struct CardResource: Codable, Sendable, Hashable {
    public var brand: String
    public var last4: String
    public var expMonth: Int
    public var expYear: Int

    public init(brand: String, last4: String, expMonth: Int, expYear: Int) {
        self.brand = brand
        self.last4 = last4
        self.expMonth = expMonth
        self.expYear = expYear
    }

    enum CodingKeys: String, CodingKey {
        case brand, last4
        case expMonth = "exp_month"
        case expYear = "exp_year"
    }
}

/// Why the last attempt failed, in the provider's words.
public struct PaymentFailure: Codable, Sendable, Hashable {
    /// `card_declined`, `insufficient_funds`, `expired_card`, `incorrect_number`, `processing_error`...
    public var code: String
    public var message: String

    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// A refund of part or all of what was captured.
public struct RefundResource: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable, Hashable {
        /// Recorded and sent (or being sent) to the provider.
        case pending
        case succeeded
        case failed
    }

    public var id: String
    public var paymentID: String
    public var amount: Int64
    public var currency: String
    public var reason: String
    public var status: Status
    public var createdAt: Date

    public init(id: String, paymentID: String, amount: Int64, currency: String, reason: String, status: Status, createdAt: Date) {
        self.id = id
        self.paymentID = paymentID
        self.amount = amount
        self.currency = currency
        self.reason = reason
        self.status = status
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, amount, currency, reason, status
        case paymentID = "payment_id"
        case createdAt = "created_at"
    }
}

/// One step of a payment's history.
public struct PaymentTransition: Codable, Sendable, Hashable {
    public var from: PaymentStatus?
    public var to: PaymentStatus
    public var cause: String
    public var requestID: String?
    public var at: Date

    public init(from: PaymentStatus?, to: PaymentStatus, cause: String, requestID: String?, at: Date) {
        self.from = from
        self.to = to
        self.cause = cause
        self.requestID = requestID
        self.at = at
    }

    enum CodingKeys: String, CodingKey {
        case from, to, cause, at
        case requestID = "request_id"
    }
}

/// A payment as the API shows it.
public struct PaymentResource: Codable, Sendable, Hashable {
    public var id: String
    public var orderID: String
    public var customerID: Int64?
    public var status: PaymentStatus
    /// What the order costs, in minor units of `currency`.
    public var amount: Int64
    public var currency: String
    public var captureMethod: CaptureMethod
    /// Authorized and not yet captured or voided.
    public var amountCapturable: Int64
    public var amountCaptured: Int64
    public var amountRefunded: Int64
    public var provider: String
    public var card: CardResource?
    public var failure: PaymentFailure?
    /// Where the customer completes a required action (`requires_action`).
    public var nextActionURL: String?
    /// When an uncaptured authorization is voided.
    public var authorizationExpiresAt: Date?
    public var refunds: [RefundResource]
    public var history: [PaymentTransition]
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String,
        orderID: String,
        customerID: Int64?,
        status: PaymentStatus,
        amount: Int64,
        currency: String,
        captureMethod: CaptureMethod,
        amountCapturable: Int64,
        amountCaptured: Int64,
        amountRefunded: Int64,
        provider: String,
        card: CardResource?,
        failure: PaymentFailure?,
        nextActionURL: String?,
        authorizationExpiresAt: Date?,
        refunds: [RefundResource],
        history: [PaymentTransition],
        createdAt: Date,
        updatedAt: Date
    ) {
        self.id = id
        self.orderID = orderID
        self.customerID = customerID
        self.status = status
        self.amount = amount
        self.currency = currency
        self.captureMethod = captureMethod
        self.amountCapturable = amountCapturable
        self.amountCaptured = amountCaptured
        self.amountRefunded = amountRefunded
        self.provider = provider
        self.card = card
        self.failure = failure
        self.nextActionURL = nextActionURL
        self.authorizationExpiresAt = authorizationExpiresAt
        self.refunds = refunds
        self.history = history
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, status, amount, currency, provider, card, failure, refunds, history
        case orderID = "order_id"
        case customerID = "customer_id"
        case captureMethod = "capture_method"
        case amountCapturable = "amount_capturable"
        case amountCaptured = "amount_captured"
        case amountRefunded = "amount_refunded"
        case nextActionURL = "next_action_url"
        case authorizationExpiresAt = "authorization_expires_at"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// Encodes `nil` members as `null`, so every documented member is always present.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(id, forKey: .id)
        try container.encode(orderID, forKey: .orderID)
        try container.encode(customerID, forKey: .customerID)
        try container.encode(status, forKey: .status)
        try container.encode(amount, forKey: .amount)
        try container.encode(currency, forKey: .currency)
        try container.encode(captureMethod, forKey: .captureMethod)
        try container.encode(amountCapturable, forKey: .amountCapturable)
        try container.encode(amountCaptured, forKey: .amountCaptured)
        try container.encode(amountRefunded, forKey: .amountRefunded)
        try container.encode(provider, forKey: .provider)
        try container.encode(card, forKey: .card)
        try container.encode(failure, forKey: .failure)
        try container.encode(nextActionURL, forKey: .nextActionURL)
        try container.encode(authorizationExpiresAt, forKey: .authorizationExpiresAt)
        try container.encode(refunds, forKey: .refunds)
        try container.encode(history, forKey: .history)
        try container.encode(createdAt, forKey: .createdAt)
        try container.encode(updatedAt, forKey: .updatedAt)
    }
}

/// The card a customer pays with, as checkout passes it on: a raw card for the `test`
/// provider, or a token the provider issued to the browser (`pm_...` for Stripe).
/// Neither is ever stored or logged.
public struct PaymentMethodBody: Codable, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var token: String?
    public var card: CardBody?

    public init(token: String? = nil, card: CardBody? = nil) {
        self.token = token
        self.card = card
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case token, card
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        token = try container.decodeIfPresent(String.self, forKey: .token)
        card = try container.decodeIfPresent(CardBody.self, forKey: .card)
    }

    /// Never the number: a payment method in a log line or an error is only its shape.
    public var description: String { card.map { "card ending \($0.number.suffix(4))" } ?? "token" }
    public var debugDescription: String { description }
}

/// A card number with its expiry and code, as typed; kept only in memory for one call.
public struct CardBody: Codable, Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    public var number: String
    public var expMonth: Int
    public var expYear: Int
    public var cvc: String?

    public init(number: String, expMonth: Int, expYear: Int, cvc: String? = nil) {
        self.number = number
        self.expMonth = expMonth
        self.expYear = expYear
        self.cvc = cvc
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case number, cvc
        case expMonth = "exp_month"
        case expYear = "exp_year"
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        number = try container.decode(String.self, forKey: .number)
        expMonth = try container.decode(Int.self, forKey: .expMonth)
        expYear = try container.decode(Int.self, forKey: .expYear)
        cvc = try container.decodeIfPresent(String.self, forKey: .cvc)
    }

    public var description: String { "card ending \(number.suffix(4))" }
    public var debugDescription: String { description }
}

/// The body of `POST /internal/v1/payments`: what Orders asks to be charged.
public struct NewPayment: JSONRequestBody, Encodable, Hashable {
    public var orderID: String?
    public var customerID: Int64?
    /// Computed by Orders from its own lines; never a client's figure.
    public var amount: Int64?
    public var currency: String?
    public var captureMethod: CaptureMethod?
    public var paymentMethod: PaymentMethodBody?

    public init(
        orderID: String,
        customerID: Int64?,
        amount: Int64,
        currency: String,
        captureMethod: CaptureMethod = .automatic,
        paymentMethod: PaymentMethodBody
    ) {
        self.orderID = orderID
        self.customerID = customerID
        self.amount = amount
        self.currency = currency
        self.captureMethod = captureMethod
        self.paymentMethod = paymentMethod
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case amount, currency
        case orderID = "order_id"
        case customerID = "customer_id"
        case captureMethod = "capture_method"
        case paymentMethod = "payment_method"
    }
}

/// What Orders says of an order it gives up on before its charge is known: the amount and
/// currency the payment's record will carry, though nothing is ever taken.
public struct ChargeClosure: JSONRequestBody, Encodable, Hashable {
    public var customerID: Int64?
    public var amount: Int64?
    public var currency: String?

    public init(customerID: Int64?, amount: Int64, currency: String) {
        self.customerID = customerID
        self.amount = amount
        self.currency = currency
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case amount, currency
        case customerID = "customer_id"
    }
}

/// The body of a refund request.
public struct RefundRequest: JSONRequestBody, Encodable, Hashable {
    /// Minor units; everything still refundable when left out.
    public var amount: Int64?
    public var reason: String?

    public init(amount: Int64?, reason: String) {
        self.amount = amount
        self.reason = reason
    }

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case amount, reason
    }
}
