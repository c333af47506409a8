import Foundation
import OrderAPI
import PaymentAPI
import ProductAPI
import ServiceContract

/// An order as the service keeps it.
struct Order: Sendable, Hashable {
    var id: String
    var status: OrderStatus
    /// What checkout (or a cancellation) does next; `.done` when nothing is left to do.
    var step: SagaStep
    /// Where the order lands when the step's compensation is finished.
    var outcome: OrderStatus?
    var customerID: Int64?
    var cartID: String
    var email: String
    var locale: String
    var currency: String
    var subtotal: Int64
    var total: Int64
    var amountRefunded: Int64
    var itemCount: Int
    var shippingAddress: ShippingAddress
    var paymentID: String?
    var paymentFailure: PaymentFailure?
    var nextActionURL: String?
    var shortLines: [ShortLine]
    var trackingNumber: String?
    var carrier: String?
    /// Whether the reservation was committed (the stock left): a cancellation returns it.
    var stockCommitted: Bool
    /// Why the step was set (the cause a compensation ends with, in the history).
    var stepReason: String?
    /// Until when the request (or worker) that took the last step owns the order; after
    /// it, the recovery worker takes the next step.
    var leaseUntil: Date
    /// How many times the recovery worker has taken the order up: a refund the provider
    /// refused is tried again under a new key.
    var attempts: Int = 0
    var lines: [OrderLineResource]
    var sequence: Int64
    var createdAt: Date
    var updatedAt: Date

    var reservationLines: [ReservationLine] { lines.map { ReservationLine(productID: $0.productID, quantity: $0.quantity) } }

    func eventData(reason: String?) -> OrderEventData {
        OrderEventData(
            orderID: id,
            status: status,
            customerID: customerID,
            email: email,
            locale: locale,
            lines: lines,
            subtotal: Amount(amount: subtotal, currency: currency),
            total: Amount(amount: total, currency: currency),
            amountRefunded: Amount(amount: amountRefunded, currency: currency),
            trackingNumber: trackingNumber,
            carrier: carrier,
            reason: reason
        )
    }

    func resource(history: [OrderTransition]) -> OrderResource {
        OrderResource(
            id: id,
            status: status,
            customerID: customerID,
            cartID: cartID,
            email: email,
            locale: locale,
            lines: lines,
            itemCount: itemCount,
            subtotal: Amount(amount: subtotal, currency: currency),
            total: Amount(amount: total, currency: currency),
            amountRefunded: Amount(amount: amountRefunded, currency: currency),
            shippingAddress: shippingAddress,
            paymentID: paymentID,
            paymentFailure: paymentFailure,
            nextActionURL: status == .pending ? nextActionURL : nil,
            shortLines: shortLines,
            trackingNumber: trackingNumber,
            carrier: carrier,
            history: history,
            createdAt: createdAt,
            updatedAt: updatedAt
        )
    }
}

/// The steps of checkout and of undoing it, each recorded before it is taken, so a
/// process that dies at any point leaves the next step written down for the recovery
/// worker. Every call a step makes is idempotent by the order's id.
enum SagaStep: String, Sendable, Hashable {
    /// Reserve every line in Products (reservation id = order id), charge through Payments
    /// (keyed by the order), commit the reservation: the order is confirmed. Payments knows
    /// whether the charge happened (one payment per order), so the three need one record.
    case charge
    /// Give the reservation back, then land on `outcome`.
    case release
    /// Refund what was captured, then return the stock if it left, then land on `outcome`.
    case refund
    /// Return the stock of a committed reservation, then land on `outcome`.
    case restock
    /// Nothing left to do.
    case done
}

/// The rules of orders.
enum OrderRules {
    /// An order's id: `ord_` and 24 hex digits, later ones sorting after earlier ones.
    static func newID() -> String {
        RandomID.timeOrdered("ord")
    }

    static func isID(_ raw: String) -> Bool {
        RandomID.isValid(raw, prefix: "ord")
    }

    /// The statuses staff may move an order to from each status, by hand.
    static func canShip(_ status: OrderStatus) -> Bool { status == .confirmed }
    static func canDeliver(_ status: OrderStatus) -> Bool { status == .shipped }
    /// A customer cancels before shipping; staff too (a shipped order is refunded instead).
    static func canCancel(_ status: OrderStatus) -> Bool { status == .confirmed }
    static func canRefund(_ status: OrderStatus) -> Bool { [.confirmed, .shipped, .delivered, .partiallyRefunded].contains(status) }
}

/// Why an order call was refused.
enum OrderError: Error, Sendable, Hashable {
    case notFound
    /// The cart has nothing to buy.
    case emptyCart
    /// Another checkout of this cart is under way.
    case checkoutInProgress(orderID: String)
    /// A line cannot be bought (archived, unknown, another currency).
    case notForSale(productID: Int64, reason: String)
    /// Checkout was refused for stock; the order was cancelled.
    case outOfStock(orderID: String, lines: [ShortLine])
    /// The card was declined; the order is `payment_failed`.
    case declined(orderID: String, code: String, message: String)
    /// The transition is not allowed from the current status.
    case illegalTransition(orderID: String, status: OrderStatus, action: String)
    /// A guest must give an address to write to.
    case emailRequired
    /// Payments refused the payment method as given; `field` is inside `payment_method`.
    case invalidPaymentMethod(field: String, message: String)
    /// The total is outside what one payment may take.
    case totalOutOfRange(String)
    /// The provider refused a refund; nothing was refunded.
    case refundRefused(String)
    /// The cart changed while checkout read it.
    case cartChanged
    /// Checkout ended without a sale (interrupted and given up, or the hold lapsed).
    case checkoutEnded(orderID: String, reason: String)
    /// Refunds cannot exceed what was paid and not yet refunded.
    case refundTooLarge(refundable: Int64)
}
