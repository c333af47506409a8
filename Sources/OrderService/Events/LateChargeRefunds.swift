import Foundation
import PaymentAPI
import Platform
import SQLKit

/// `payment.completed` for an order that ended without a sale (given up before its charge
/// was known, or declined and then settled after all by a webhook or the reconciler): the
/// order is sent to its refund, which the recovery worker makes at once. Money never stays
/// with an order that sold nothing.
enum LateChargeRefunds {
    static func consumer(database: any Database) -> EventConsumer {
        EventConsumer(
            name: "orders.late-charges",
            types: [PaymentCompleted.type],
            database: database,
            // Nearly every payment completes an order being paid: a read, and no write.
            concerns: { event in
                let orderID = try event.decode(PaymentCompleted.self).payment.orderID
                return try await database.read { sql in
                    try await sql.raw(
                        """
                        SELECT 1 AS one FROM orders WHERE id = \(bind: orderID)
                            AND (step = 'release' OR (step = 'done' AND status IN ('cancelled', 'payment_failed')))
                        """
                    ).first() != nil
                }
            }
        ) { event, sql in
            let payment = try event.decode(PaymentCompleted.self).payment
            let now = Date().microsecondsSince1970
            let moved = try await sql.raw(
                """
                UPDATE orders SET step = 'refund', outcome = status, payment_id = \(bind: payment.paymentID),
                    step_reason = 'charged after checkout had ended without a sale; refunded', lease_until = 0, updated_at = \(bind: now)
                WHERE id = \(bind: payment.orderID) AND step = 'done' AND status IN ('cancelled', 'payment_failed')
                    AND stock_committed = 0 AND amount_refunded < total
                RETURNING status
                """
            ).first(decodingColumn: "status", as: String.self)
            guard let status = moved else {
                // Still giving its stock back: the release step runs again and finds the money.
                try await sql.raw("UPDATE orders SET lease_until = 0 WHERE id = \(bind: payment.orderID) AND step = 'release'").run()
                return
            }
            try await sql.raw(
                """
                INSERT INTO order_history (order_id, from_status, to_status, actor_id, reason, request_id, at)
                VALUES (\(bind: payment.orderID), \(bind: status), \(bind: status), NULL, 'charged late; refunding', \(bind: event.requestID), \(bind: now))
                """
            ).run()
        }
    }
}
