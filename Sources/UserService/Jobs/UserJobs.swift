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
    /// failed logins past their retention; with a shared count of writes, its catch-up.
    func services(logger: Logger) -> [any Service] {
        let idempotency = IdempotencyStore(database: database)
        let audit = AuditLog(database: database)
        let (database, sessions, now) = (self.database, self.sessions, self.now)
        var jobs: [any Service] = [
            PeriodicJob("purge idempotency keys, expired sessions and old failed logins", every: .seconds(3600), logger: logger) {
                try await idempotency.purge(now: now())
                try await sessions.purge(now: now())
                try await audit.purgeFailedLogins(now: now())
            }
        ]
        if let shared = (database as? WriteCountingDatabase)?.shared {
            // Every second: a change to users that moved no shared count (its process died
            // after the commit, Redis was down then, an operator's SQL) ends what every
            // instance keeps, as its own count would have.
            jobs.append(
                PeriodicJob("catch the shared count of writes up with the database's", every: Self.catchUpInterval, logger: logger) {
                    try await shared.catchUp(toChanges: try await UserStore.changeCount.current(in: database))
                }
            )
        }
        return jobs
    }

    /// How often the shared count of writes catches up with the database's count.
    static let catchUpInterval = Duration.seconds(1)
}
