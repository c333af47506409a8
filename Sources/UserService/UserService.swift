import Foundation
public import Hummingbird
public import Logging
public import Platform
public import ServiceLifecycle
public import UserAPI

/// The Users service: accounts, sessions, profiles and preferences.
///
/// Built once per run mode by the composition root, with its own database.
public struct UserService: Sendable {
    let accounts: Accounts
    let now: @Sendable () -> Date

    /// - Parameters:
    ///   - tokens: signs the access tokens it hands out at login.
    ///   - passwordCost: the bcrypt cost for new password hashes.
    ///   - passwordHashQueue: how many password hashes may wait for a thread before more
    ///     are refused with 503.
    ///   - sessionCutoffs: where ended sessions are recorded for the guards (Redis, or
    ///     this process's memory on the embedded default).
    ///   - sharedWrites: every instance's count of writes to the database (Redis), for
    ///     keeping reads on PostgreSQL.
    public init(
        database: any Database,
        tokens: AccessTokens,
        sessionCutoffs: any SessionCutoffs = InMemorySessionCutoffs(),
        sharedWrites: (any SharedWriteCount)? = nil,
        passwordCost: Int = 12,
        passwordHashQueue: Int = 64,
        logger: Logger? = nil,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        // What is read can be kept until the next write: all-in-one on SQLite this process
        // is the only writer; on PostgreSQL, with Redis, every instance counts its writes
        // there. Without either, what is kept (the list's total) is at most a second behind
        // other instances' writes.
        let database = WriteCountingDatabase(database, shared: database.kind == .sqlite ? nil : sharedWrites, logger: logger)
        let store = UserStore(database: database)
        self.accounts = Accounts(
            store: store,
            // Refresh tokens are in nothing a read keeps: their writes (every login) leave
            // the kept answers be.
            sessions: SessionStore(database: database.base),
            hasher: PasswordHasher(cost: UInt8(passwordCost), maxWaiting: passwordHashQueue),
            tokens: tokens,
            cutoffs: sessionCutoffs,
            now: now
        )
        self.now = now
    }

    var store: UserStore { accounts.store }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { UserMigrations.all }

    /// Applies this service's migrations to its database.
    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(store.database)
    }

    /// Adds the `/users` and `/auth` routes to the `/api/v1` group.
    /// The public paths this service serves, as prefixes: the gateway sends every route
    /// under them here (a longer prefix of another service wins).
    public static let publicPathPrefixes = ["/api/v1/users", "/api/v1/auth", "/api/v1/audit-events"]

    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        var routes = UserRoutes(accounts: accounts, idempotency: IdempotencyStore(database: store.database), now: now)
        if let counted = store.database as? WriteCountingDatabase, counted.kind == .sqlite || counted.shared != nil {
            // Kept answers: exact while the count sees every write. On SQLite the age bounds
            // a writer that moves no count (a maintenance command on the file). On
            // PostgreSQL a write whose shared count could not be moved is caught up with
            // within a second (`UserJobs`), so the age only bounds what Redis losing the
            // count itself could leave.
            let age: Duration = counted.kind == .sqlite ? .seconds(1) : .seconds(300)
            routes.keptPages = KeptAnswers(database: counted, maximumAge: age)
            routes.keptUsers = KeptAnswers(database: counted, limit: 20_000, maximumAge: age)
        }
        routes.add(to: group)
        AuthRoutes(accounts: accounts).add(to: group)
        AuditRoutes(log: AuditLog(database: store.database)).add(to: group)
    }

    /// This service's own database.
    public var database: any Database { store.database }

    /// Where this service's consumers record and handle events: the database without the
    /// count of writes, since no consumer changes a user or the list (the audit trail,
    /// the cutoffs, preferences), and a backlog of events (after `shop seed`, say) must not
    /// drop the kept answers at every batch. A consumer that changes users must count.
    public var consumerDatabase: any Database { (store.database as? WriteCountingDatabase)?.base ?? store.database }

    /// Where this service's events wait for the relay.
    public var outbox: EventOutbox { store.outbox }

    /// The events this service handles: its own account events, into the audit trail, and
    /// ended sessions, into the cutoffs every guard reads (so an ending committed by
    /// another process, such as `shop users create-admin`, reaches this one); and one-click
    /// unsubscribes from Notifications, into preferences.
    public var consumers: [EventConsumer] {
        [
            AuditTrail.consumer(database: consumerDatabase),
            SessionCutoffFeed.consumer(database: consumerDatabase, cutoffs: accounts.cutoffs),
            MailUnsubscribes.consumer(store: store),
        ]
    }

    /// Background work this service needs while it serves.
    public func backgroundServices(logger: Logger) -> [any Service] {
        UserJobs(database: store.database, sessions: accounts.sessions, now: now).services(logger: logger)
    }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] {
        [.database("users database", store.database)]
    }

    /// The in-process client other services use in the single-process mode.
    public var client: any UserClient { LocalUserClient(store: store) }

    /// The demo customers `shop seed` registers.
    public var demoUsers: DemoUsers { DemoUsers(store: store, now: now) }

    /// Makes `email` an admin: a new account (a password is required), or, only with
    /// `promoteExisting`, the account registered with that address, whose sessions end.
    public func bootstrapAdmin(email: String, name: String, password: String?, promoteExisting: Bool = false) async throws -> AdminAccount {
        do {
            let user = NewUser(email: try EmailAddress(email), name: try PersonName(name), role: .admin)
            var hash: String?
            if let password { hash = try await accounts.hasher.hash(try Password(password)) }
            switch try await accounts.bootstrapAdmin(user, passwordHash: hash, promoteExisting: promoteExisting) {
            case .created(let admin):
                return AdminAccount(userID: admin.id, email: admin.email.value, previousRole: nil)
            case .promoted(let admin, let previousRole):
                return AdminAccount(userID: admin.id, email: admin.email.value, previousRole: previousRole)
            case .exists(let existing) where existing.role == .admin:
                return AdminAccount(userID: existing.id, email: existing.email.value, previousRole: .admin)
            case .exists(let existing):
                throw InvalidValue(
                    "\(existing.email.value) is already account #\(existing.id) (\(existing.role.rawValue)), which anyone may have registered; "
                        + "pass --promote-existing to make it admin and end its sessions"
                )
            case .needsPassword:
                throw InvalidValue("A password is needed to create a new admin")
            }
        } catch let error as InvalidValue {
            throw BootstrapError(reason: error.reason)
        }
    }
}

/// Why an admin could not be bootstrapped.
public struct BootstrapError: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { reason }
}

/// ``UserClient`` by direct calls into the store, for the single-process mode.
struct LocalUserClient: UserClient {
    let store: UserStore

    func user(id: Int64) async throws -> UserResource? {
        try await store.find(id: id).map(UserResource.init)
    }
}
