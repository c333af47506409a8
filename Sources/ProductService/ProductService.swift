import Foundation
public import Hummingbird
public import Logging
public import Platform
public import ProductAPI
public import Redis
public import ServiceLifecycle

/// The Products service: catalog, prices and inventory that never oversells.
///
/// This first part holds products and their stock with reservations for checkout;
/// its HTTP routes, categories, search, caching and images come next.
public struct ProductService: Sendable {
    let inventory: InventoryStore
    let stock: Inventory
    let now: @Sendable () -> Date

    /// - Parameter redis: keeps the live available counts when given (see ``StockCache``).
    public init(database: any Database, redis: RedisClient? = nil, logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.inventory = InventoryStore(database: database)
        self.stock = Inventory(store: inventory, cache: redis.map { StockCache(redis: $0) }, logger: logger)
        self.now = now
    }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { ProductMigrations.all }

    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(inventory.database)
    }

    /// Adds the `/products` routes to the `/api/v1` group.
    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        ProductRoutes(catalog: CatalogStore(database: inventory.database), inventory: stock, now: now).add(to: group)
        CategoryRoutes(categories: CategoryStore(database: inventory.database), now: now).add(to: group)
    }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] {
        [.database("products database", inventory.database)]
    }

    /// Where this service's events wait for the relay.
    public var outbox: EventOutbox { inventory.outbox }

    /// The in-process inventory client the order service uses in the single-process mode.
    public var inventoryClient: any InventoryClient { LocalInventoryClient(inventory: stock, now: now) }

    /// Returns the stock of reservations that were neither committed nor released in time.
    public func backgroundServices(logger: Logger) -> [any Service] {
        let stock = self.stock
        let now = self.now
        return [
            PeriodicJob("expire stock reservations", every: .seconds(15), logger: logger) {
                _ = try await stock.expireReservations(now: now())
            }
        ]
    }
}

/// ``InventoryClient`` by direct calls into the store.
struct LocalInventoryClient: InventoryClient {
    let inventory: Inventory
    let now: @Sendable () -> Date

    func reserve(id: String, lines: [ReservationLine], expiresIn: Duration) async throws -> Reservation {
        let now = self.now()
        return try await inventory.reserve(
            id: id, lines: lines, expiresAt: now.addingTimeInterval(TimeInterval(expiresIn.components.seconds)), at: now)
    }

    func commit(id: String) async throws -> Reservation {
        try await inventory.commit(id: id, at: now())
    }

    func release(id: String) async throws -> Reservation {
        try await inventory.release(id: id, at: now())
    }
}
