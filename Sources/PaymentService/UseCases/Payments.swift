import Crypto
import Foundation
import Logging
import PaymentAPI
import Platform

/// The payment operations: each records what it is about to ask of the provider, asks
/// with a key derived from our ids, and applies the answer; an answer that does not come
/// (a timeout, a crash) is found later by a webhook or by ``reconcile()``.
struct Payments: Sendable {
    let store: PaymentStore
    let provider: any PaymentProvider
    /// How long one provider call may take before its outcome counts as unknown.
    let timeout: Duration
    /// How long an uncaptured authorization is held before it is voided.
    let authorizationTTL: Duration
    /// How long a payment waits on the provider before the reconciler asks about it.
    let reconcileAfter: Duration
    /// How old an unanswered charge must be before the provider's "never heard of it" is
    /// believed: a provider's search may lag behind its writes (Stripe's, by up to a
    /// minute), and a charge failed too early could be charged again by the next attempt.
    let lostAfter: Duration
    /// How long a customer has to complete a required action (3-D Secure).
    let actionTTL: Duration
    let breaker: CircuitBreaker?
    let logger: Logger
    let now: @Sendable () -> Date

    /// A validated request to charge an order.
    struct Charge: Sendable {
        var orderID: String
        var customerID: Int64?
        var amount: Int64
        var currency: String
        var captureMethod: CaptureMethod
        var method: PaymentMethodBody
        var card: CardResource?
    }

    /// Checks a ``NewPayment`` field by field.
    static func validated(_ body: NewPayment, now: Date) throws -> Charge {
        var validation = Validation()
        let orderID = validation.required("order_id", body.orderID) { (id: String) throws(InvalidValue) in
            guard PaymentRules.isKey(id) else { throw InvalidValue("Must be 1 to 128 visible ASCII characters") }
            return id
        }
        let amount = validation.required("amount", body.amount, Self.checkedAmount)
        let currency = validation.required("currency", body.currency, Self.checkedCurrency)
        let customer = validation.optional("customer_id", body.customerID, Self.checkedCustomer)
        let method = validation.required("payment_method", body.paymentMethod)
        let (order, value, code, method2) = try validation.check(orderID, amount, currency, method)
        let customerID = customer
        let card: CardResource?
        do {
            card = try method2.checked()?.resource
        } catch {
            throw error.apiError
        }
        return Charge(
            orderID: order,
            customerID: customerID,
            amount: value,
            currency: code,
            captureMethod: body.captureMethod ?? .automatic,
            method: method2,
            card: card
        )
    }

    private static func checkedAmount(_ amount: Int64) throws(InvalidValue) -> Int64 {
        guard (1...PaymentRules.maxAmount).contains(amount) else { throw InvalidValue("Must be from 1 to \(PaymentRules.maxAmount) minor units") }
        return amount
    }

    private static func checkedCurrency(_ code: String) throws(InvalidValue) -> String {
        guard PaymentRules.isCurrency(code) else { throw InvalidValue("Must be an ISO 4217 code such as EUR") }
        return code
    }

    private static func checkedCustomer(_ id: Int64) throws(InvalidValue) -> Int64 {
        guard id > 0 else { throw InvalidValue("Must be a user id") }
        return id
    }

    /// Checks a ``ChargeClosure`` field by field.
    static func validated(_ body: ChargeClosure, orderID: String, provider: String) throws -> PaymentStore.Closure {
        var validation = Validation()
        let amount = validation.required("amount", body.amount, Self.checkedAmount)
        let currency = validation.required("currency", body.currency, Self.checkedCurrency)
        let customer = validation.optional("customer_id", body.customerID, Self.checkedCustomer)
        let (value, code) = try validation.check(amount, currency)
        return PaymentStore.Closure(orderID: orderID, customerID: customer, amount: value, currency: code, provider: provider)
    }

    /// Charges the order once, whatever is retried; answers the payment as it stands
    /// (`processing` when the provider's answer did not come in time).
    func create(_ charge: Charge, idempotencyKey: String) async throws -> Payment {
        if let refusal = provider.refusal(of: charge.method) { throw refusal }
        let request = PaymentStore.ChargeRequest(
            orderID: charge.orderID,
            customerID: charge.customerID,
            amount: charge.amount,
            currency: charge.currency,
            captureMethod: charge.captureMethod,
            provider: provider.name,
            idempotencyKey: idempotencyKey,
            fingerprint: Self.fingerprint(charge),
            card: charge.card
        )
        switch try await store.start(request, at: now()) {
        case .existing(let payment):
            return payment
        case .call(let payment):
            let providerCharge = ProviderCharge(
                paymentID: payment.id,
                idempotencyKey: payment.attemptKey,
                amount: payment.amount,
                currency: payment.currency,
                captureMethod: payment.captureMethod,
                method: charge.method
            )
            do {
                let intent = try await call { try await provider.authorize(providerCharge) }
                return try await apply(intent, to: payment, cause: "provider answered")
            } catch let error as ProviderError {
                switch error {
                case .rejected(let code, let message):
                    return try await fail(payment, PaymentFailure(code: code, message: message), cause: "provider refused")
                case .notSent(let reason):
                    // Certainly never sent: the attempt fails now, so another may follow at once.
                    _ = try await fail(
                        payment,
                        PaymentFailure(code: "provider_unavailable", message: "The provider was not called: \(reason)"),
                        cause: "not sent"
                    )
                    throw PaymentError.unavailable(reason)
                default:
                    logger.warning(
                        "charge outcome unknown; left for the webhook or the reconciler",
                        metadata: ["payment": "\(payment.id)", "error": "\(error)"]
                    )
                    return payment
                }
            }
        }
    }

    /// Captures `amount` (all that is capturable when `nil`) of an authorization.
    func capture(_ id: String, amount: Int64?) async throws -> Payment {
        let payment = try await store.begin(.capture, amount: amount, of: id, at: now())
        return try await finishCapture(payment)
    }

    private func finishCapture(_ payment: Payment) async throws -> Payment {
        guard let reference = payment.providerReference, let amount = payment.pendingAmount else { return payment }
        do {
            let intent = try await call {
                try await provider.capture(reference: reference, amount: amount, idempotencyKey: payment.captureKey(amount))
            }
            return try await apply(intent, to: payment, cause: "captured")
        } catch ProviderError.rejected(_, let message) {
            return try await refused(payment, .capture, message: "The provider refused the capture: \(message)")
        } catch let error as ProviderError {
            logger.warning("capture outcome unknown; the reconciler repeats it", metadata: ["payment": "\(payment.id)", "error": "\(error)"])
            return payment
        }
    }

    /// Voids an authorization that was not captured; a declined payment is closed as it is.
    func cancel(_ id: String, cause: String = "voided") async throws -> Payment {
        guard let current = try await store.payment(id: id) else { throw PaymentError.notFound("Payment \(id)") }
        if current.status == .canceled { return current }
        if current.status == .failed || current.status == .requiresPaymentMethod { return try await store.cancelUnfunded(id, at: now()) }
        let payment = try await store.begin(.cancel, amount: nil, of: id, at: now())
        return try await finishCancel(payment, cause: cause)
    }

    private func finishCancel(_ payment: Payment, cause: String) async throws -> Payment {
        guard let reference = payment.providerReference else { return payment }
        do {
            let intent = try await call { try await provider.cancel(reference: reference, idempotencyKey: payment.cancelKey) }
            return try await apply(intent, to: payment, cause: cause)
        } catch ProviderError.rejected(_, let message) {
            return try await refused(payment, .cancel, message: "The provider refused the void: \(message)")
        } catch let error as ProviderError {
            logger.warning("void outcome unknown; the reconciler repeats it", metadata: ["payment": "\(payment.id)", "error": "\(error)"])
            return payment
        }
    }

    /// A capture or void the provider refused may have been done already (by a call with
    /// the same key, or a state changed there): the provider's view decides, and only
    /// when nothing moved is the recorded call forgotten and the refusal answered.
    private func refused(_ payment: Payment, _ action: Payment.PendingAction, message: String) async throws -> Payment {
        if let intent = try await call({ try await provider.find(attemptKey: payment.attemptKey, reference: payment.providerReference) }) {
            let settled = try await apply(intent, to: payment, cause: "provider answered")
            if settled.pendingAction == nil { return settled }
        }
        try await store.clearPending(payment.id, action, at: now())
        throw PaymentError.conflict(message)
    }

    /// Refunds `amount` (all that is left when `nil`); the same key answers the same refund.
    func refund(_ id: String, amount: Int64?, reason: String, idempotencyKey: String) async throws -> RefundResource {
        let (refund, payment) = try await store.beginRefund(of: id, amount: amount, reason: reason, idempotencyKey: idempotencyKey, at: now())
        guard refund.status == .pending else { return refund }
        return try await sendRefund(refund, reference: payment.providerReference, refundReference: nil)
    }

    /// Sends a pending refund (again, with its own id as the key), or, once the provider
    /// has answered `pending` for it, asks about it instead: never a second request after
    /// the provider has forgotten the key.
    private func sendRefund(_ refund: RefundResource, reference: String?, refundReference: String?) async throws -> RefundResource {
        guard let reference else { return refund }
        do {
            let answer: ProviderRefund
            if let refundReference {
                guard let found = try await call({ try await provider.findRefund(reference: refundReference) }) else {
                    try await store.touchRefund(refund.id, at: now())
                    return refund
                }
                answer = found
            } else {
                answer = try await call {
                    try await provider.refund(reference: reference, amount: refund.amount, reason: refund.reason, idempotencyKey: refund.id)
                }
            }
            if answer.status == .pending { try await store.touchRefund(refund.id, at: now()) }
            return try await store.finishRefund(refund.id, with: answer, at: now())
        } catch ProviderError.rejected(let code, let message) {
            return try await store.finishRefund(
                refund.id,
                with: ProviderRefund(reference: "", status: .failed, amount: refund.amount, failure: "\(code): \(message)"),
                at: now()
            )
        } catch let error as ProviderError {
            logger.warning("refund outcome unknown; the reconciler repeats it", metadata: ["refund": "\(refund.id)", "error": "\(error)"])
            try await store.touchRefund(refund.id, at: now())
            return refund
        }
    }

    /// Looks at a payment again because its provider said something happened: asks the
    /// provider (the notice's body is never taken for the outcome) and applies its answer.
    func settle(_ notice: ProviderNotice) async throws {
        var payment: Payment?
        if let id = notice.paymentID { payment = try await store.payment(id: id) }
        guard let payment else {
            logger.info("provider notice for no payment of ours", metadata: ["event": "\(notice.eventID)", "type": "\(notice.type)"])
            return
        }
        if let reference = notice.reference, let current = payment.providerReference, reference != current {
            // A charge of an earlier attempt: it should hold no money (that attempt failed).
            // If it does, people must look: it is logged for them, never booked on this one.
            if let earlier = try? await call({ try await provider.find(attemptKey: "", reference: reference) }),
                earlier.amountReceived > 0 || earlier.status == .requiresCapture
            {
                logger.error(
                    "a charge of an earlier attempt holds money; refund or void it at the provider",
                    metadata: ["payment": "\(payment.id)", "charge": "\(reference)"]
                )
            }
            return
        }
        try await look(at: payment, cause: "provider notice \(notice.type)")
    }

    /// Finishes what crashes and lost answers left: calls without an answer are asked
    /// about or repeated (with the same keys), pending refunds are sent again or asked
    /// about, required actions not completed in time fail, and authorizations past their
    /// expiry are voided. Answers how many it looked at.
    @discardableResult
    func reconcile() async throws -> Int {
        let cutoff = now().addingTimeInterval(-Self.seconds(reconcileAfter))
        var looked = 0
        for payment in try await store.unsettled(before: cutoff, now: now()) {
            looked += 1
            do {
                try await look(at: payment, cause: "reconciled")
            } catch {
                logger.warning("reconciling a payment failed", metadata: ["payment": "\(payment.id)", "error": "\(error)"])
                try? await store.touch(payment.id, at: now())
            }
        }
        for (refund, reference, refundReference) in try await store.pendingRefunds(before: cutoff, now: now()) {
            looked += 1
            _ = try? await sendRefund(refund, reference: reference, refundReference: refundReference)
        }
        for payment in try await store.expiredAuthorizations(at: now()) {
            looked += 1
            do {
                _ = try await cancel(payment.id, cause: "authorization expired")
            } catch {
                logger.warning("voiding an expired authorization failed", metadata: ["payment": "\(payment.id)", "error": "\(error)"])
            }
        }
        return looked
    }

    private func look(at payment: Payment, cause: String) async throws {
        switch payment.pendingAction {
        case .capture?:
            _ = try await finishCapture(payment)
        case .cancel?:
            _ = try await finishCancel(payment, cause: cause)
        case .authorize?, nil:
            let started = try await store.attemptStarted(payment) ?? payment.updatedAt
            let intent = try await call { try await provider.find(attemptKey: payment.attemptKey, reference: payment.providerReference) }
            if let intent {
                let settled = try await apply(intent, to: payment, cause: cause)
                if settled.status == .requiresAction, started <= now().addingTimeInterval(-Self.seconds(actionTTL)) {
                    try await expireAction(settled)
                } else if settled == payment {
                    try await store.touch(payment.id, at: now())
                }
            } else if payment.pendingAction == .authorize, started <= now().addingTimeInterval(-Self.seconds(lostAfter)) {
                // The provider never received the charge: nothing was taken, and the
                // customer may try again.
                _ = try await fail(
                    payment,
                    PaymentFailure(code: "processing_error", message: "The charge did not reach the provider; nothing was taken"),
                    cause: cause
                )
            } else {
                try await store.touch(payment.id, at: now())
            }
        }
    }

    /// A required action (3-D Secure) the customer did not complete in time: the charge
    /// is canceled at the provider and the attempt fails, so another card may follow.
    private func expireAction(_ payment: Payment) async throws {
        guard let reference = payment.providerReference else { return }
        do {
            let intent = try await call { try await provider.cancel(reference: reference, idempotencyKey: payment.cancelKey) }
            if intent.status != .canceled {
                _ = try await apply(intent, to: payment, cause: "action completed")
                return
            }
        } catch ProviderError.rejected {
            // Settled meanwhile: the provider's view decides.
            if let intent = try await call({ try await provider.find(attemptKey: payment.attemptKey, reference: reference) }),
                intent.status != .requiresAction,
                intent.status != .canceled
            {
                _ = try await apply(intent, to: payment, cause: "action completed")
                return
            }
        }
        _ = try await fail(
            payment,
            PaymentFailure(code: "authentication_expired", message: "The required action was not completed in time; nothing was taken"),
            cause: "action expired"
        )
    }

    private func fail(_ payment: Payment, _ failure: PaymentFailure, cause: String) async throws -> Payment {
        try await store.apply(
            nil,
            failure: failure,
            to: payment.id,
            attempt: payment.attempt,
            cause: cause,
            authorizationTTL: authorizationTTL,
            at: now()
        )
    }

    private func apply(_ intent: ProviderIntent, to payment: Payment, cause: String) async throws -> Payment {
        try await store.apply(intent, to: payment.id, attempt: payment.attempt, cause: cause, authorizationTTL: authorizationTTL, at: now())
    }

    /// One provider call: bounded by ``timeout`` and behind the breaker; a timeout is
    /// ``ProviderError/unavailable(_:)`` (the outcome is unknown), an open breaker
    /// ``ProviderError/notSent(_:)``.
    private func call<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = self.timeout
        let bounded: @Sendable () async throws -> T = {
            do {
                return try await withTimeout(timeout, body)
            } catch is TimedOut {
                throw ProviderError.unavailable("no answer within \(timeout)")
            }
        }
        guard let breaker else { return try await bounded() }
        do {
            return try await breaker.run(bounded) { error in
                if case ProviderError.unavailable = error { return true }
                return false
            }
        } catch is CircuitOpenError {
            throw ProviderError.notSent("the provider's circuit is open")
        }
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// What the request said, without the card: the same key with another body is a conflict.
    static func fingerprint(_ charge: Charge) -> String {
        let text = [
            charge.orderID, String(charge.amount), charge.currency, charge.captureMethod.rawValue, charge.customerID.map(String.init) ?? "-",
            charge.card?.last4 ?? charge.method.token ?? "-",
        ].joined(separator: "|")
        return Hexadecimal.encode(SHA256.hash(data: Data(text.utf8)))
    }
}
