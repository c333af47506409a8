public import Foundation
public import Hummingbird
public import Logging
public import Platform
public import ProductAPI
public import ServiceLifecycle

/// The Orders service. So far: carts (a customer's, or a guest's opened by a token),
/// read with the catalog as it is now, and merged at login.
public struct OrderService: Sendable {
    public struct Settings: Sendable {
        /// A guest cart untouched this long is deleted.
        public var guestCartTTL: Duration

        public init(guestCartTTL: Duration = .seconds(30 * 86_400)) {
            self.guestCartTTL = guestCartTTL
        }
    }

    let carts: Carts
    let settings: Settings
    let now: @Sendable () -> Date

    public init(
        database: any Database,
        catalog: any CatalogClient,
        settings: Settings = Settings(),
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        self.carts = Carts(store: CartStore(database: database), catalog: catalog, now: now)
        self.settings = settings
        self.now = now
    }

    public var database: any Database { carts.store.database }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { OrderMigrations.all }

    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(database)
    }

    /// Adds `/carts` and `/cart` to the `/api/v1` group.
    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        CartRoutes(carts: carts).add(to: group)
    }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] { [.database("orders database", database)] }

    /// Purges idle guest carts hourly.
    public func backgroundServices(logger: Logger) -> [any Service] {
        let (store, ttl, now) = (carts.store, settings.guestCartTTL, self.now)
        return [
            PeriodicJob("purge idle guest carts", every: .seconds(3600), logger: logger) {
                try await store.purgeGuestCarts(idleSince: now().addingTimeInterval(-Double(ttl.components.seconds)))
            }
        ]
    }
}
