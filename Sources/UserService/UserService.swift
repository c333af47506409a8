import Foundation
public import Hummingbird
public import Logging
public import Platform
public import ServiceLifecycle
public import UserAPI

/// The Users service: accounts and profiles.
///
/// Built once per run mode by the composition root, with its own database.
public struct UserService: Sendable {
    let store: UserStore
    let now: @Sendable () -> Date

    public init(database: any Database, now: @escaping @Sendable () -> Date = { Date() }) {
        self.store = UserStore(database: database)
        self.now = now
    }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { UserMigrations.all }

    /// Applies this service's migrations to its database.
    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(store.database)
    }

    /// Adds `/users` routes to the `/api/v1` group.
    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        UserRoutes(store: store, idempotency: IdempotencyStore(database: store.database), now: now).add(to: group)
    }

    /// Background work this service needs while it serves.
    public func backgroundServices(logger: Logger) -> [any Service] {
        let idempotency = IdempotencyStore(database: store.database)
        let now = self.now
        return [
            PeriodicJob("purge idempotency keys", every: .seconds(3600), logger: logger) {
                try await idempotency.purge(now: now())
            }
        ]
    }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] {
        [.database("users database", store.database)]
    }

    /// The in-process client other services use in the single-process mode.
    public var client: any UserClient { LocalUserClient(store: store) }

    /// Registers `count` demo users named `user<N>@example.com`, skipping existing ones.
    public func seedDemoUsers(count: Int) async throws {
        let batchSize = 1000
        for start in stride(from: 0, to: count, by: batchSize) {
            let users = try (start..<min(start + batchSize, count)).map { index in
                NewUser(email: try EmailAddress("user\(index + 1)@example.com"), name: try PersonName("Demo User \(index + 1)"))
            }
            try await store.createMany(users, at: now())
        }
    }
}

/// ``UserClient`` by direct calls into the store, for the single-process mode.
struct LocalUserClient: UserClient {
    let store: UserStore

    func user(id: Int64) async throws -> UserResource? {
        try await store.find(id: id).map(UserResource.init)
    }
}
