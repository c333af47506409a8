/// What the order service asks of Payments during checkout and after it.
///
/// Every call names the order: one order has one payment, ever, so a retry of any call
/// cannot charge twice.
public protocol PaymentClient: Sendable {
    /// Charges (or, with manual capture, authorizes) the order's amount. The same
    /// `idempotencyKey` answers the first call's payment; a new key on a failed payment
    /// tries the new card; a new key on any other payment is a conflict.
    /// - Throws: ``PaymentError/declined(code:message:paymentID:)`` when the card was refused.
    func createPayment(_ payment: NewPayment, idempotencyKey: String) async throws -> PaymentResource
    /// The payment of an order, if it has one.
    func payment(orderID: String) async throws -> PaymentResource?
    /// Gives back `amount` (everything still refundable when `nil`) of what was captured.
    func refund(orderID: String, amount: Int64?, reason: String, idempotencyKey: String) async throws -> RefundResource
    /// Voids an authorization that was not captured (nothing is taken).
    func cancel(orderID: String) async throws -> PaymentResource
    /// Closes an order that has no payment to every charge, so that one still on its way
    /// (sent by a request that outlived its lease) is refused when it arrives, and nothing
    /// is ever taken for an order that was given up. `nil` when the order is closed (now or
    /// by an earlier call); the order's payment when it has one, which stands.
    func closeToCharges(orderID: String, _ closure: ChargeClosure) async throws -> PaymentResource?
}

extension PaymentResource {
    /// The failure code of a closure (``PaymentClient/closeToCharges(orderID:_:)``).
    public static let closureCode = "order_closed"

    /// Whether this is the record of an order closed to charges before any reached it:
    /// `canceled`, nothing sent to a provider, nothing taken.
    public var isClosure: Bool { status == .canceled && failure?.code == Self.closureCode && amountCaptured == 0 }
}

/// Why a payment call was refused.
public enum PaymentError: Error, Sendable, Hashable {
    /// The provider refused the card; `code` is its decline code (`card_declined`,
    /// `insufficient_funds`, `expired_card`...).
    case declined(code: String, message: String, paymentID: String)
    case notFound(String)
    /// The payment is in a state that does not allow this (or the order already has
    /// another payment); the message names the state.
    case conflict(String)
    /// An input was refused; `field` names it.
    case invalid(field: String, message: String)
    /// The provider (or the payment service) did not answer in time; nothing is lost,
    /// the payment is settled later by a webhook or the reconciler.
    case unavailable(String)
}
