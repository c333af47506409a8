import Foundation
import PaymentAPI
import ServiceContract

/// A payment as the service keeps it.
struct Payment: Sendable, Hashable {
    var id: String
    var orderID: String
    var customerID: Int64?
    var status: PaymentStatus
    var amount: Int64
    var currency: String
    var captureMethod: CaptureMethod
    var amountCapturable: Int64
    var amountCaptured: Int64
    var amountRefunded: Int64
    /// Refunds recorded and not yet settled: counted against what may still be refunded.
    var refundPending: Int64
    var provider: String
    var providerReference: String?
    /// The attempt to charge (1, then one more for every new card after a decline).
    var attempt: Int
    /// The provider call recorded before it is made, until its answer is applied:
    /// `authorize`, `capture` or `cancel`; the reconciler finishes what a crash interrupted.
    var pendingAction: PendingAction?
    var pendingAmount: Int64?
    var card: CardResource?
    var failure: PaymentFailure?
    var nextActionURL: String?
    var authorizationExpiresAt: Date?
    var createdAt: Date
    var updatedAt: Date
    /// The row's place in creation order, for lists.
    var sequence: Int64 = 0

    enum PendingAction: String, Sendable, Hashable {
        case authorize, capture, cancel
    }

    /// The key the provider sees for this payment's current attempt: derived from our
    /// id, so a retry after a crash can never create a second charge there.
    var attemptKey: String { "\(id)-attempt-\(attempt)" }
    /// The keys of a capture of `amount` and of a void of this attempt: a capture of
    /// another amount after a refused one is another request, never a key clash.
    func captureKey(_ amount: Int64) -> String { "\(attemptKey)-capture-\(amount)" }
    var cancelKey: String { "\(attemptKey)-cancel" }

    /// The record of an order closed before any charge reached it (``PaymentStore/close(_:at:)``):
    /// no attempt, nothing sent to a provider, and every later charge for the order refused.
    var isClosure: Bool { attempt == 0 }

    /// What can still be refunded.
    var refundable: Int64 { amountCaptured - amountRefunded - refundPending }

    var eventData: PaymentEventData {
        PaymentEventData(
            paymentID: id,
            orderID: orderID,
            customerID: customerID,
            amount: amount,
            currency: currency,
            status: status,
            amountCaptured: amountCaptured
        )
    }
}

/// The rules of a payment's states.
enum PaymentRules {
    /// The largest amount one payment may take, in minor units (a million in a currency with cents).
    static let maxAmount: Int64 = 100_000_000
    /// At most this many cards may be tried for one order.
    static let maxAttempts = 10
    /// At most this many refunds of one payment.
    static let maxRefunds = 100

    /// How far along a status is: a provider's report never moves a payment back.
    static func rank(_ status: PaymentStatus) -> Int {
        switch status {
        case .requiresPaymentMethod: 0
        case .requiresAction, .processing: 1
        case .requiresCapture: 2
        case .succeeded, .canceled, .failed: 3
        }
    }

    /// The payment's id: `pay_` and 24 hex digits, later ones sorting after earlier ones.
    static func newID(prefix: String = "pay") -> String { RandomID.timeOrdered(prefix) }

    /// An ISO 4217 code: three upper-case letters.
    static func isCurrency(_ code: String) -> Bool {
        code.utf8.count == 3 && code.utf8.allSatisfy { (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) }
    }

    /// An order id or idempotency key: 1 to `max` visible ASCII characters.
    static func isKey(_ value: String, max: Int = 128) -> Bool {
        (1...max).contains(value.utf8.count) && value.utf8.allSatisfy { (0x21...0x7E).contains($0) }
    }
}
