import Foundation
import Logging
import Platform
import ServiceLifecycle

/// The Payments service's background work.
struct PaymentJobs: Sendable {
    let payments: Payments
    let database: any Database
    let reconcileEvery: Duration
    let now: @Sendable () -> Date

    func services(logger: Logger) -> [any Service] {
        let payments = self.payments
        let idempotency = IdempotencyStore(database: database)
        let now = self.now
        return [
            // Settles payments whose answer was lost, repeats unanswered captures, voids and
            // refunds with their keys, and voids authorizations past their expiry.
            PeriodicJob("payment reconciler", every: reconcileEvery, logger: logger) {
                try await payments.reconcile()
            },
            PeriodicJob("payment idempotency purge", every: .seconds(3600), logger: logger) {
                _ = try await idempotency.purge(now: now())
            },
        ]
    }
}
