import Crypto
import Foundation
import Logging
import OrderAPI
import PaymentAPI
import Platform

/// What happens to an order after checkout: staff ship and deliver it, the customer (before
/// shipping) or staff cancel it, staff refund it. Every move checks the status under the
/// order's lock; an illegal one names the status it met.
struct OrderActions: Sendable {
    let checkout: Checkout
    var store: OrderStore { checkout.store }
    var now: @Sendable () -> Date { checkout.now }

    func ship(_ id: String, trackingNumber: String, carrier: String?, by actorID: Int64) async throws -> Order {
        try await store.update(id, at: now()) { order in
            guard OrderRules.canShip(order.status) else { throw OrderError.illegalTransition(orderID: id, status: order.status, action: "shipped") }
            order.status = .shipped
            order.trackingNumber = trackingNumber
            order.carrier = carrier
            return OrderEffects(reason: "shipped", actorID: actorID, event: .shipped)
        }
    }

    func deliver(_ id: String, by actorID: Int64) async throws -> Order {
        try await store.update(id, at: now()) { order in
            guard OrderRules.canDeliver(order.status) else {
                throw OrderError.illegalTransition(orderID: id, status: order.status, action: "delivered")
            }
            order.status = .delivered
            return OrderEffects(reason: "delivered", actorID: actorID, event: .delivered)
        }
    }

    /// Cancels a confirmed order: it is `cancelled` at once, then refunded in full and its
    /// stock returned (by the recovery worker if Payments or Products cannot answer now).
    func cancel(_ id: String, reason: String, by actorID: Int64?) async throws -> Order {
        let lease = now().addingTimeInterval(checkout.settings.lease.seconds)
        let order = try await store.update(id, at: now()) { order in
            guard OrderRules.canCancel(order.status), order.step == .done else {
                throw OrderError.illegalTransition(orderID: id, status: order.status, action: "cancelled")
            }
            order.status = .cancelled
            order.step = .refund
            order.outcome = .cancelled
            order.stepReason = reason
            order.leaseUntil = lease
            return OrderEffects(reason: reason, actorID: actorID, event: .cancelled)
        }
        do {
            return try await checkout.advance(order)
        } catch {
            checkout.logger.warning(
                "cancellation left for the recovery worker",
                metadata: ["order": "\(id)", "error": "\(error)"]
            )
            return try await store.order(id: id) ?? order
        }
    }

    /// Refunds `amount` (all that is left when `nil`) through Payments. The status says
    /// where the goods are until the money is all back: a partial refund of a confirmed or
    /// shipped order leaves it to be shipped or delivered (and is in its history); after
    /// delivery it is `partially_refunded`; everything back is `refunded`. The same `key`
    /// answers the same refund, and the order's figure is what Payments has refunded, never
    /// lowered by a slower racing refund, so a repeat never counts twice.
    func refund(_ id: String, amount: Int64?, reason: String, key: String, by actorID: Int64) async throws -> Order {
        guard let order = try await store.order(id: id) else { throw OrderError.notFound }
        guard OrderRules.canRefund(order.status), order.step == .done else {
            throw OrderError.illegalTransition(orderID: id, status: order.status, action: "refunded")
        }
        let refundable = order.total - order.amountRefunded
        guard refundable > 0, amount.map({ $0 <= refundable }) ?? true else { throw OrderError.refundTooLarge(refundable: refundable) }
        // The client's key may be 255 characters: Payments gets a digest of it, bounded.
        let digest = Hexadecimal.encode(SHA256.hash(data: Data(key.utf8)).prefix(16))
        let refund = try await checkout.payments.refund(orderID: id, amount: amount, reason: reason, idempotencyKey: "refund-\(id)-\(digest)")
        if refund.status == .failed { throw OrderError.refundRefused("The payment provider refused the refund; nothing was refunded") }
        let refunded = try await checkout.refundedSoFar(id)
        return try await store.update(id, at: now()) { order in
            guard OrderRules.canRefund(order.status) || order.status == .refunded else {
                throw OrderError.illegalTransition(orderID: id, status: order.status, action: "refunded")
            }
            order.amountRefunded = max(order.amountRefunded, min(order.total, refunded))
            if order.amountRefunded >= order.total {
                order.status = .refunded
            } else if order.status == .delivered {
                order.status = .partiallyRefunded
            }
            return OrderEffects(reason: reason, actorID: actorID, recorded: true, event: .refunded)
        }
    }
}
