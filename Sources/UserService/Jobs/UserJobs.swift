import Foundation
import Logging
import Platform
import ServiceLifecycle

/// The Users service's background work.
struct UserJobs: Sendable {
    let database: any Database
    let sessions: SessionStore
    let now: @Sendable () -> Date

    /// Hourly: idempotency keys past their day, refresh tokens a day past expiry, and
    /// failed logins past their retention.
    func services(logger: Logger) -> [any Service] {
        let idempotency = IdempotencyStore(database: database)
        let audit = AuditLog(database: database)
        let (sessions, now) = (self.sessions, self.now)
        return [
            PeriodicJob("purge idempotency keys, expired sessions and old failed logins", every: .seconds(3600), logger: logger) {
                try await idempotency.purge(now: now())
                try await sessions.purge(now: now())
                try await audit.purgeFailedLogins(now: now())
            }
        ]
    }
}
