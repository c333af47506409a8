import Foundation
import PaymentAPI

/// The demo payments `shop seed` makes through the test network, so a newcomer (and the
/// fuzzer) finds payments in every state: paid, held for a manual capture, declined,
/// partly refunded.
public struct DemoPayments: Sendable {
    let payments: Payments

    /// Charges `count` demo orders (`demo-order-0001` ...) of the customers `customers`;
    /// a second run answers the payments made before. Nothing is made on another provider.
    public func seed(count: Int, customers: [Int64]) async throws {
        guard payments.provider is TestNetwork, count > 0 else { return }
        for index in 1...count {
            let order = "demo-order-" + String(repeating: "0", count: max(0, 4 - String(index).count)) + String(index)
            let number = index % 5 == 0 ? "4000000000000002" : index % 3 == 0 ? "5555555555554444" : "4242424242424242"
            let body = NewPayment(
                orderID: order,
                customerID: customers.isEmpty ? nil : customers[index % customers.count],
                amount: Int64(1_000 + index * 137 % 9_000),
                currency: "EUR",
                captureMethod: index % 3 == 0 ? .manual : .automatic,
                paymentMethod: PaymentMethodBody(card: CardBody(number: number, expMonth: 12, expYear: 2035, cvc: "123"))
            )
            let payment = try await payments.create(try Payments.validated(body, now: Date()), idempotencyKey: "demo-\(order)")
            if index % 4 == 0, payment.status == .succeeded {
                _ = try await payments.refund(
                    payment.id,
                    amount: payment.amountCaptured / 2,
                    reason: "demo: one item returned",
                    idempotencyKey: "demo-refund-\(order)"
                )
            }
        }
    }
}
