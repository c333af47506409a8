import Foundation
import Logging
import OrderAPI
import PaymentAPI
import Platform
import ProductAPI
import UserAPI

/// Checkout as a saga that Orders orchestrates: the order is written `pending`, its stock
/// reserved in Products, the charge made through Payments, the reservation committed.
/// Every step is recorded before it is taken (``SagaStep``), and every call is keyed by
/// the order's id, so the request that dies halfway, or the recovery worker that takes
/// over, only ever repeats a call that has no second effect.
struct Checkout: Sendable {
    let store: OrderStore
    let carts: Carts
    let inventory: any InventoryClient
    let payments: any PaymentClient
    let users: (any UserClient)?
    let settings: OrderService.Settings
    let logger: Logger
    let now: @Sendable () -> Date

    struct Details: Sendable {
        var customerID: Int64?
        var email: String?
        var locale: String
        var address: ShippingAddress
        var paymentMethod: PaymentMethodBody
        /// The request placing the order, kept on it so that a retry finds it.
        var request: CheckoutRequestKey? = nil
    }

    /// Turns `cart` into an order and runs checkout to its end, or as far as it can go now
    /// (`pending` while the payment waits on the customer or the provider).
    /// - Throws: ``OrderError/outOfStock(orderID:lines:)`` and
    ///   ``OrderError/declined(orderID:code:message:)`` after the order has landed.
    func place(_ cart: Cart, _ details: Details) async throws -> Order {
        guard !cart.lines.isEmpty else { throw OrderError.emptyCart }
        let products = Dictionary(try await carts.catalog.products(ids: cart.lines.map(\.productID)).map { ($0.id, $0) }) { first, _ in first }
        var lines: [OrderLineResource] = []
        var currency: String?
        for line in cart.lines {
            guard let product = products[line.productID], product.status == .active else {
                throw OrderError.notForSale(productID: line.productID, reason: "is no longer sold; remove it from the cart")
            }
            if let currency, currency != product.currency {
                throw OrderError.notForSale(productID: line.productID, reason: "is priced in \(product.currency); the cart is in \(currency)")
            }
            currency = product.currency
            let price = Amount(amount: product.price, currency: product.currency)
            lines.append(
                OrderLineResource(
                    productID: product.id,
                    sku: product.sku,
                    name: product.name,
                    quantity: line.quantity,
                    unitPrice: price,
                    lineTotal: Amount(amount: product.price * Int64(line.quantity), currency: product.currency)
                )
            )
        }
        // Refused before anything is written: a card of the wrong shape, a total no payment takes.
        try Self.check(details.paymentMethod)
        let email = try await contactEmail(details)
        let subtotal = lines.reduce(0) { $0 + $1.lineTotal.amount }
        guard (1...Self.maxTotal).contains(subtotal) else {
            throw OrderError.totalOutOfRange("An order's total must be from 1 to \(Self.maxTotal) in minor units; this cart's is \(subtotal)")
        }
        let started = now()
        let order = Order(
            id: OrderRules.newID(),
            status: .pending,
            // Reserving and charging are one recorded step: what happened is asked of
            // Payments (one payment per order) and undone by releasing, which is harmless
            // for a reservation never made.
            step: .charge,
            outcome: nil,
            customerID: details.customerID,
            cartID: cart.id,
            email: email,
            locale: details.locale,
            currency: currency ?? "EUR",
            subtotal: subtotal,
            total: subtotal,
            amountRefunded: 0,
            itemCount: lines.reduce(0) { $0 + $1.quantity },
            shippingAddress: details.address,
            paymentID: nil,
            paymentFailure: nil,
            nextActionURL: nil,
            shortLines: [],
            trackingNumber: nil,
            carrier: nil,
            stockCommitted: false,
            stepReason: nil,
            leaseUntil: started.addingTimeInterval(settings.lease.seconds),
            lines: lines,
            sequence: 0,
            createdAt: started,
            updatedAt: started
        )
        try await store.place(order, actorID: details.customerID, request: details.request, at: started)
        FailPoint.hit("checkout.after-order")
        return try await run(order, paying: details.paymentMethod)
    }

    private func contactEmail(_ details: Details) async throws -> String {
        if let email = details.email { return email }
        if let customerID = details.customerID, let user = try await users?.user(id: customerID) { return user.email }
        throw OrderError.emailRequired
    }

    /// Reserve, charge, commit: the steps that need the card, which only the request has.
    private func run(_ placed: Order, paying method: PaymentMethodBody) async throws -> Order {
        var order = placed
        do {
            _ = try await inventory.reserve(id: order.id, lines: order.reservationLines, expiresIn: settings.reservationHold)
            FailPoint.hit("checkout.after-reserve")
        } catch let error as InventoryError {
            switch error {
            case .outOfStock, .notForSale, .unknownProduct:
                let short = await shortLines(order, error)
                order = try await store.update(order.id, at: now()) { order in
                    guard order.step == .charge else { return nil }
                    order.status = .cancelled
                    order.step = .done
                    order.shortLines = short
                    return OrderEffects(reason: "out of stock", event: .cancelled, cart: .unlock)
                }
                throw OrderError.outOfStock(orderID: order.id, lines: short)
            case .conflict, .invalidLines, .invalidExpiry, .reservationNotFound:
                // Refused outright, nothing reserved: the order ends now and the cart opens.
                _ = try await store.update(order.id, at: now()) { order in
                    guard order.step == .charge else { return nil }
                    order.status = .cancelled
                    order.step = .done
                    order.stepReason = "stock could not be reserved"
                    return OrderEffects(reason: "stock could not be reserved", event: .cancelled, cart: .unlock)
                }
                throw error
            }
        }

        let payment: PaymentResource
        do {
            payment = try await payments.createPayment(
                NewPayment(
                    orderID: order.id,
                    customerID: order.customerID,
                    amount: order.total,
                    currency: order.currency,
                    paymentMethod: method
                ),
                idempotencyKey: Self.chargeKey(order.id)
            )
            FailPoint.hit("checkout.after-charge")
        } catch PaymentError.declined(let code, let message, let paymentID) {
            order = try await failPayment(
                order.id,
                paymentID: paymentID.isEmpty ? nil : paymentID,
                failure: PaymentFailure(code: code, message: message)
            )
            throw OrderError.declined(orderID: order.id, code: code, message: message)
        } catch PaymentError.invalid(let field, let message) {
            // Refused before anything was sent to a provider: nothing was charged.
            order = try await failPayment(order.id, paymentID: nil, failure: PaymentFailure(code: "invalid_payment_method", message: message))
            throw OrderError.invalidPaymentMethod(field: field, message: message)
        } catch PaymentError.unavailable {
            // The outcome is unknown: Payments settles it, the worker follows it up.
            return try await waitOnPayment(order.id, payment: nil)
        } catch PaymentError.conflict {
            // The charge's key is held by a call still at Payments (one that reached an
            // instance which then died, and was sent on to another): its outcome is unknown
            // too, and the worker asks Payments for it, as when no answer came.
            return try await waitOnPayment(order.id, payment: nil)
        }
        return try await settle(order, with: payment)
    }

    /// Moves a `charge` step on from what Payments says of the order's payment.
    private func settle(_ charged: Order, with payment: PaymentResource?) async throws -> Order {
        guard let payment else {
            // No payment was ever recorded, and the order is closed to charges: nothing was
            // or will be charged; give the stock back.
            let order = try await store.update(charged.id, at: now()) { order in
                guard order.step == .charge else { return nil }
                order.step = .release
                order.outcome = .cancelled
                order.stepReason = "checkout was interrupted before payment; nothing was charged"
                return OrderEffects(reason: "interrupted")
            }
            return try await advance(order)
        }
        switch payment.status {
        case .succeeded, .requiresCapture:
            return try await confirm(charged.id, paidBy: payment.id)
        case .requiresAction, .processing:
            return try await waitOnPayment(charged.id, payment: payment)
        case .failed, .canceled, .requiresPaymentMethod:
            let failure = payment.failure ?? PaymentFailure(code: "payment_canceled", message: "The payment was not completed")
            let order = try await failPayment(charged.id, paymentID: payment.id, failure: failure)
            return order
        }
    }

    private func failPayment(_ id: String, paymentID: String?, failure: PaymentFailure) async throws -> Order {
        let order = try await store.update(id, at: now()) { order in
            guard order.step == .charge else { return nil }
            order.paymentID = paymentID ?? order.paymentID
            order.paymentFailure = failure
            order.step = .release
            order.outcome = .paymentFailed
            order.stepReason = "payment declined (\(failure.code))"
            return OrderEffects(reason: "payment declined")
        }
        return try await advance(order)
    }

    private func waitOnPayment(_ id: String, payment: PaymentResource?) async throws -> Order {
        let poll = now().addingTimeInterval(settings.paymentPoll.seconds)
        return try await store.update(id, at: now()) { order in
            guard order.step == .charge else { return nil }
            order.paymentID = payment?.id ?? order.paymentID
            order.nextActionURL = payment?.nextActionURL
            order.leaseUntil = poll
            return OrderEffects(reason: "waiting on the payment")
        }
    }

    /// Takes the order's next step, and the ones after it, until it is done or must wait.
    /// The recovery worker calls this for orders whose request is gone.
    func advance(_ current: Order) async throws -> Order {
        var order = current
        while true {
            let before = order.step
            switch order.step {
            case .done:
                return order
            case .charge:
                // Only a request holds the card: the worker follows a charge up, never makes
                // one. With no payment at Payments, the request died before its charge got
                // there, or its charge is still on the way (the request outlived its lease):
                // the order is closed to charges first, so that one is refused when it
                // arrives, and then the stock goes back. Nothing is taken, nothing refunded.
                var payment = try await payments.payment(orderID: order.id)
                if payment == nil { payment = try await closeToCharges(order) }
                // Closed by an earlier pass that did not get to move the order on.
                if payment?.isClosure == true { payment = nil }
                if let payment, payment.status == .requiresAction || payment.status == .processing {
                    return try await waitOnPayment(order.id, payment: payment)
                }
                return try await settle(order, with: payment)
            case .release:
                do {
                    _ = try await inventory.release(id: order.id)
                } catch InventoryError.reservationNotFound(_) {
                    // Never made.
                } catch InventoryError.conflict(_) {
                    // Not held: released or expired already, or committed by a request that
                    // outlived its lease. A committed one comes back; the others refuse.
                    do { _ = try await inventory.restock(id: order.id) } catch InventoryError.conflict(_) {}
                }
                // Money that arrived after all (a late settlement) goes back before the order
                // ends; until Payments answers, the step stays and is tried again.
                if let payment = try await payments.payment(orderID: order.id), payment.status == .succeeded, payment.amountCaptured > 0 {
                    order = try await store.update(order.id, at: now()) { order in
                        guard order.step == .release else { return nil }
                        order.paymentID = payment.id
                        order.step = .refund
                        order.stepReason = "charged after checkout had ended without a sale; refunded"
                        return OrderEffects(reason: "charged late; refunding", recorded: true)
                    }
                } else {
                    order = try await land(order.id, from: .release)
                }
            case .refund:
                try await refundEverything(order)
                if order.stockCommitted {
                    order = try await store.update(order.id, at: now()) { order in
                        guard order.step == .refund else { return nil }
                        order.step = .restock
                        return OrderEffects(reason: "refunded")
                    }
                } else {
                    order = try await land(order.id, from: .refund)
                }
            case .restock:
                do {
                    _ = try await inventory.restock(id: order.id)
                } catch InventoryError.conflict(_) {
                    // Not committed (the hold lapsed): there is nothing to return.
                }
                order = try await land(order.id, from: .restock) { $0.stockCommitted = false }
            }
            if order.step == before { return order }
        }
    }

    /// Closes the order to charges at Payments: `nil` when it is closed, its payment when it
    /// has one.
    private func closeToCharges(_ order: Order) async throws -> PaymentResource? {
        do {
            return try await payments.closeToCharges(
                orderID: order.id,
                ChargeClosure(customerID: order.customerID, amount: order.total, currency: order.currency)
            )
        } catch PaymentError.notFound(let message) {
            // A Payments older than closures (upgrade Payments first): given up unfenced, as
            // before them; a charge that still arrives is refunded.
            logger.warning("Payments cannot close orders to charges", metadata: ["order": "\(order.id)", "answer": "\(message)"])
            return nil
        }
    }

    /// The stock of a paid order leaves for good and the order is `confirmed`, in one
    /// recorded step: a crash before it leaves the order at `charge`, and the worker finds
    /// the payment and comes here again (committing twice is answered, not repeated).
    /// A reservation that cannot be committed (its hold lapsed, or the worker released it
    /// while this charge was on its way) sends the money back instead.
    private func confirm(_ id: String, paidBy paymentID: String) async throws -> Order {
        do {
            do {
                _ = try await inventory.commit(id: id)
            } catch InventoryError.conflict(_) {
                // A racing commit of the same reservation may have won: asked again, a
                // committed one answers itself, a lapsed one is refused again.
                _ = try await inventory.commit(id: id)
            }
        } catch InventoryError.conflict(_), InventoryError.reservationNotFound(_) {
            let order = try await store.update(id, at: now()) { order in
                guard order.step == .charge else { return Self.refundLateCharge(&order, paymentID: paymentID) }
                order.paymentID = paymentID
                order.step = .refund
                order.outcome = .cancelled
                order.stepReason = "the stock reservation lapsed before the payment completed; refunded"
                return OrderEffects(reason: "reservation lapsed")
            }
            return try await advance(order)
        }
        FailPoint.hit("checkout.after-commit")
        let order = try await store.update(id, at: now()) { order in
            if order.step == .charge {
                order.paymentID = paymentID
                order.status = .confirmed
                order.step = .done
                order.stockCommitted = true
                order.nextActionURL = nil
                return OrderEffects(reason: "paid", event: .confirmed, cart: .close)
            }
            // Given up while this request was still working (it outlived its lease), yet its
            // stock was reserved, paid for and committed: all of it goes back.
            guard order.step == .done, order.status == .cancelled || order.status == .paymentFailed, !order.stockCommitted else { return nil }
            if let effects = Self.refundLateCharge(&order, paymentID: paymentID) {
                order.stockCommitted = true
                return effects
            }
            order.stockCommitted = true
            order.step = .restock
            order.outcome = order.status
            order.stepReason = "stock committed after checkout had ended; returned"
            return OrderEffects(reason: "stock committed late; returning", recorded: true)
        }
        return order.step == .done ? order : try await advance(order)
    }

    /// Sends an order that ended without a sale to its refund when its payment took money
    /// after all (late, from a webhook or the reconciler); `nil` when there is nothing to do.
    static func refundLateCharge(_ order: inout Order, paymentID: String) -> OrderEffects? {
        guard order.step == .done, order.status == .cancelled || order.status == .paymentFailed, !order.stockCommitted,
            order.amountRefunded < order.total
        else { return nil }
        order.paymentID = paymentID
        order.step = .refund
        order.outcome = order.status
        order.stepReason = "charged after checkout had ended without a sale; refunded"
        return OrderEffects(reason: "charged late; refunding", recorded: true)
    }

    /// Puts the order on its `outcome` once its compensation is finished.
    private func land(_ id: String, from step: SagaStep, also change: @escaping @Sendable (inout Order) -> Void = { _ in }) async throws -> Order {
        try await store.update(id, at: now()) { order in
            // A payment.completed that came meanwhile set the lease to zero: the release step
            // runs again and finds the money.
            guard order.step == step, step != .release || order.leaseUntil.timeIntervalSince1970 > 0 else { return nil }
            change(&order)
            order.step = .done
            let reason = order.stepReason ?? "compensated"
            guard let outcome = order.outcome, order.status != outcome else { return OrderEffects(reason: reason) }
            order.status = outcome
            return OrderEffects(reason: reason, event: outcome == .cancelled ? .cancelled : nil, cart: .unlock)
        }
    }

    /// Refunds all that was captured for the order and not yet refunded (or being refunded),
    /// and records what went back. A refund the provider refused is an error: the step
    /// stays, and the worker's next attempt asks under a new key (Payments never lets
    /// refunds exceed what was captured, so a new key cannot refund twice).
    private func refundEverything(_ order: Order) async throws {
        guard let payment = try await payments.payment(orderID: order.id) else { return }
        switch payment.status {
        case .requiresCapture:
            _ = try await payments.cancel(orderID: order.id)
        case .succeeded:
            let owed = payment.amountCaptured - payment.refunds.filter { $0.status != .failed }.reduce(0) { $0 + $1.amount }
            if owed > 0 {
                let refund = try await payments.refund(
                    orderID: order.id,
                    amount: nil,
                    reason: order.stepReason ?? "order cancelled",
                    idempotencyKey: "cancel-\(order.id)-\(order.attempts)"
                )
                if refund.status == .failed { throw OrderError.refundRefused("The provider refused refund \(refund.id)") }
            }
            let refunded = try await refundedSoFar(order.id)
            try await store.update(order.id, at: now()) { order in
                order.amountRefunded = max(order.amountRefunded, min(order.total, refunded))
                return OrderEffects(reason: "refunded")
            }
        default:
            return
        }
    }

    /// What Payments has refunded, or is refunding, for the order.
    func refundedSoFar(_ orderID: String) async throws -> Int64 {
        guard let payment = try await payments.payment(orderID: orderID) else { return 0 }
        return payment.refunds.filter { $0.status != .failed }.reduce(0) { $0 + $1.amount }
    }

    /// The lines that cannot be reserved as they stand, for the answer and the order.
    private func shortLines(_ order: Order, _ error: InventoryError) async -> [ShortLine] {
        let available = (try? await carts.catalog.products(ids: order.lines.map(\.productID))).map { products in
            Dictionary(products.map { ($0.id, $0.status == .active ? $0.available : 0) }) { first, _ in first }
        }
        var short = order.lines.compactMap { line -> ShortLine? in
            guard let count = available?[line.productID] ?? nil, count < line.quantity else { return nil }
            return ShortLine(productID: line.productID, requested: line.quantity, available: count)
        }
        let named: Int64? =
            switch error {
            case .outOfStock(let id), .notForSale(let id), .unknownProduct(let id): id
            default: nil
            }
        if let named, !short.contains(where: { $0.productID == named }), let line = order.lines.first(where: { $0.productID == named }) {
            short.append(ShortLine(productID: named, requested: line.quantity, available: 0))
        }
        return short
    }

    static func chargeKey(_ orderID: String) -> String { "checkout-\(orderID)" }

    /// The payment method's shape, as Payments would check it, before anything is written.
    static func check(_ method: PaymentMethodBody) throws(OrderError) {
        let outcome: Result<CheckedCard?, PaymentError> = Result { () throws(PaymentError) in try method.checked() }
        guard case .failure(let error) = outcome else { return }
        switch error {
        case .invalid(let field, let message): throw .invalidPaymentMethod(field: field, message: message)
        default: throw .invalidPaymentMethod(field: "payment_method", message: "\(error)")
        }
    }

    /// The most one payment takes (Payments' own limit), in minor units.
    static let maxTotal: Int64 = 100_000_000
}
