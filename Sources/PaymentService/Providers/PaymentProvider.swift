public import Foundation
public import PaymentAPI

/// A charge as a provider is asked for it.
public struct ProviderCharge: Sendable, Hashable {
    /// Our payment's id, stored with the provider's object (Stripe `metadata`), so the
    /// object can be found again after a crash lost its reference.
    public var paymentID: String
    /// The provider-side idempotency key: derived from our payment id and attempt.
    public var idempotencyKey: String
    public var amount: Int64
    public var currency: String
    public var captureMethod: CaptureMethod
    /// Only in memory, for this one call.
    public var method: PaymentMethodBody

    public init(paymentID: String, idempotencyKey: String, amount: Int64, currency: String, captureMethod: CaptureMethod, method: PaymentMethodBody) {
        self.paymentID = paymentID
        self.idempotencyKey = idempotencyKey
        self.amount = amount
        self.currency = currency
        self.captureMethod = captureMethod
        self.method = method
    }
}

/// What a provider says of a charge (a Stripe PaymentIntent).
public struct ProviderIntent: Sendable, Hashable {
    /// The provider's id of the charge (`pi_...`).
    public var reference: String
    /// The attempt key it was created with, when the provider reports it.
    public var idempotencyKey: String?
    public var status: PaymentStatus
    public var amount: Int64
    public var amountCapturable: Int64
    public var amountReceived: Int64
    public var card: CardResource?
    public var failure: PaymentFailure?
    public var nextActionURL: String?

    public init(
        reference: String,
        idempotencyKey: String? = nil,
        status: PaymentStatus,
        amount: Int64,
        amountCapturable: Int64,
        amountReceived: Int64,
        card: CardResource? = nil,
        failure: PaymentFailure? = nil,
        nextActionURL: String? = nil
    ) {
        self.reference = reference
        self.idempotencyKey = idempotencyKey
        self.status = status
        self.amount = amount
        self.amountCapturable = amountCapturable
        self.amountReceived = amountReceived
        self.card = card
        self.failure = failure
        self.nextActionURL = nextActionURL
    }
}

/// What a provider says of a refund.
public struct ProviderRefund: Sendable, Hashable {
    public var reference: String
    public var status: RefundResource.Status
    public var amount: Int64
    public var failure: String?

    public init(reference: String, status: RefundResource.Status, amount: Int64, failure: String? = nil) {
        self.reference = reference
        self.status = status
        self.amount = amount
        self.failure = failure
    }
}

/// A verified notification from a provider: which of our payments to look at again.
/// The body is never trusted for the outcome: the service asks the provider (``PaymentProvider/find(attemptKey:reference:)``),
/// so duplicates and notifications out of order change nothing.
public struct ProviderNotice: Sendable, Hashable {
    public var eventID: String
    public var type: String
    /// The provider's id of the charge the notice is about.
    public var reference: String?
    /// Our payment id, from the object's metadata.
    public var paymentID: String?

    public init(eventID: String, type: String, reference: String?, paymentID: String?) {
        self.eventID = eventID
        self.type = type
        self.reference = reference
        self.paymentID = paymentID
    }
}

/// Why a provider call failed.
public enum ProviderError: Error, Sendable, Hashable {
    /// No answer, a timeout or the provider's own failure: the outcome is unknown, and
    /// the same call with the same key may be repeated.
    case unavailable(String)
    /// The provider refused the request itself (not a card decline): the amount is more
    /// than can be captured, the charge is already canceled...
    case rejected(code: String, message: String)
    /// A webhook whose signature or timestamp did not check out: not the provider's.
    case unsignedNotice(String)
    /// The call was never sent (the provider's circuit is open): nothing happened there.
    case notSent(String)
    /// A signed webhook whose body is not a provider event.
    case invalidNotice(String)
}

/// A payment provider behind one protocol: the simulated `test` network, or Stripe.
///
/// Every mutating call carries an idempotency key derived from our ids, so repeating a
/// call whose answer was lost has no second effect at the provider.
public protocol PaymentProvider: Sendable {
    /// `test` or `stripe`: stored with every payment.
    var name: String { get }
    /// Creates and confirms the charge. A decline is an intent with status `failed` and
    /// its ``ProviderIntent/failure``, not an error.
    func authorize(_ charge: ProviderCharge) async throws -> ProviderIntent
    /// Captures `amount` of an authorized charge (the rest of the authorization is released).
    func capture(reference: String, amount: Int64, idempotencyKey: String) async throws -> ProviderIntent
    /// Voids an authorized charge that was not captured.
    func cancel(reference: String, idempotencyKey: String) async throws -> ProviderIntent
    /// Refunds `amount` of a captured charge; the key is our refund's id.
    func refund(reference: String, amount: Int64, reason: String, idempotencyKey: String) async throws -> ProviderRefund
    /// The provider's current view of a charge: by `reference` when known, else by the
    /// attempt key it was created with (the charge may exist although the answer that
    /// named it was lost). `nil` when the provider never received it.
    func find(attemptKey: String, reference: String?) async throws -> ProviderIntent?
    /// The provider's current view of a refund it answered `pending` for.
    func findRefund(reference: String) async throws -> ProviderRefund?
    /// Why this provider cannot take `method` at all (a card number where only tokens are
    /// taken, a token it does not know): refused before anything is recorded.
    func refusal(of method: PaymentMethodBody) -> PaymentError?
    /// Checks a webhook on its raw bytes (signature, timestamp) before anything is parsed.
    func verifyNotice(signature: String?, body: [UInt8], now: Date) throws -> ProviderNotice
}
