import Foundation
public import Hummingbird
public import Logging
import ObjectStorage
public import Platform
public import ProductAPI
public import Redis
public import ServiceLifecycle

/// The Products service: catalog, prices, images and inventory that never oversells.
public struct ProductService: Sendable {
    /// Stock levels, reservations and the ledger in SQL.
    let inventoryStore: InventoryStore
    /// The stock operations: the store, with the Redis counts in front when configured.
    let inventory: Inventory
    let images: ImageSettings
    let cache: CatalogCache?
    let stock: StockSnapshot?
    let logger: Logger
    let now: @Sendable () -> Date

    /// - Parameters:
    ///   - redis: keeps the live available counts and the shared read cache when given
    ///     (see ``StockCache``); without it the read cache is in this process's memory.
    ///   - images: where product images go; a folder under the temporary directory when
    ///     not given.
    ///   - cacheTTL: how long a catalog read may be served from the cache; `nil` or zero
    ///     reads the database every time. Any change of the catalog empties it at once.
    ///   - productCacheTTL: with Redis, how long an existing product's entry lives (the
    ///     cache catches up with every change the database counts, see ``CatalogCache``).
    public init(
        database: any Database,
        redis: RedisClient? = nil,
        images: ImageSettings? = nil,
        cacheTTL: Duration? = .seconds(60),
        productCacheTTL: Duration = .seconds(3600),
        metrics: ShopMetrics? = nil,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) throws {
        // All-in-one on SQLite this process is the only writer: stock read for a page can
        // be kept until the next write (with Redis, the live counts come from there).
        var database = database
        if redis == nil, database.kind == .sqlite {
            let counting = WriteCountingDatabase(database)
            database = counting
            self.stock = StockSnapshot(database: counting)
        } else {
            self.stock = nil
        }
        self.inventoryStore = InventoryStore(database: database)
        self.inventory = Inventory(store: inventoryStore, cache: redis.map { StockCache(redis: $0) }, logger: logger)
        self.images =
            try images
            ?? ImageSettings(
                storage: LocalFolderStorage(root: FileManager.default.temporaryDirectory.appendingPathComponent("shop-images"))
            )
        if let cacheTTL, cacheTTL > .zero {
            let store: any CatalogCacheStore = redis.map { RedisCatalogCache(redis: $0) } ?? MemoryCatalogCache()
            var cache = CatalogCache(store: store, ttl: cacheTTL, metrics: metrics, logger: logger)
            // With Redis, a hit reads the live counts in the same round trip as the entry.
            if redis != nil {
                cache.stockPrefix = StockCache.defaultPrefix
                cache.near = NearCatalogCache(maxEntries: 50_000)
                let counted = database
                cache.changes = { try await CatalogCache.changeCount.current(in: counted) }
                cache.productTTL = max(productCacheTTL, cacheTTL)
            }
            self.cache = cache
        } else {
            self.cache = nil
        }
        self.logger = logger
        self.now = now
    }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { ProductMigrations.all }

    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(inventoryStore.database)
    }

    /// Adds the `/products` and `/categories` routes to the `/api/v1` group.
    /// The public paths this service serves, as prefixes: the gateway sends every route
    /// under them here (the images too).
    public static let publicPathPrefixes = ["/api/v1/products", "/api/v1/categories", "/images"]

    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        let database = inventoryStore.database
        let products = ProductRoutes(
            catalog: CatalogStore(database: database),
            inventory: inventory,
            images: ImageStore(database: database),
            imageSettings: images,
            cache: cache,
            stock: stock,
            now: now
        )
        let idempotency = IdempotencyMiddleware(
            store: IdempotencyStore(database: database),
            maxBodyBytes: max(images.maxBytes, JSONBody.maxBytes),
            now: now
        )
        let staff = products.add(to: group, idempotency: idempotency)
        imageRoutes(changed: products.catalogChanged).add(staff: staff)
        let cache = self.cache
        CategoryRoutes(categories: CategoryStore(database: database), changed: { await cache?.invalidate() }, now: now).add(to: group)
    }

    /// Adds `GET /images/{name}`: the images of the local folder (or any store) served
    /// with a year's immutable caching.
    public func addPublicRoutes(to router: Router<ShopRequestContext>) {
        imageRoutes(changed: { _ in }).addPublic(to: router)
    }

    /// Adds `/internal/v1/reservations`, the inventory calls of checkout for an order
    /// service in another process, open only to callers with `token`.
    public func addInternalRoutes(to router: Router<ShopRequestContext>, token: String) {
        InternalRoutes(inventory: inventoryClient, catalog: catalogClient, token: token).add(to: router)
    }

    private func imageRoutes(changed: @escaping @Sendable (Int64) async -> Void) -> ImageRoutes {
        ImageRoutes(images: ImageStore(database: inventoryStore.database), settings: images, changed: changed, logger: logger, now: now)
    }

    /// The demo catalog `shop seed` loads.
    public var demoCatalog: DemoCatalog {
        DemoCatalog(inventoryStore: inventoryStore, cache: cache, now: now)
    }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] {
        [.database("products database", inventoryStore.database)]
    }

    /// Where this service's events wait for the relay.
    public var outbox: EventOutbox { inventoryStore.outbox }

    /// The in-process catalog client the order service reads carts with in the single-process mode.
    public var catalogClient: any CatalogClient { LocalCatalogClient(catalog: CatalogStore(database: inventoryStore.database)) }

    /// The in-process inventory client the order service uses in the single-process mode.
    public var inventoryClient: any InventoryClient { LocalInventoryClient(inventory: inventory, now: now) }

    /// Returns the stock of reservations that were neither committed nor released in
    /// time, purges old idempotency keys, and with Redis keeps its counts in step.
    public func backgroundServices(logger: Logger) -> [any Service] {
        ProductJobs(inventory: inventory, database: inventoryStore.database, cache: cache, now: now).services(logger: logger)
    }
}

/// ``CatalogClient`` by direct reads of the catalog.
struct LocalCatalogClient: CatalogClient {
    let catalog: CatalogStore

    func products(ids: [Int64]) async throws -> [CatalogProduct] {
        var found: [CatalogProduct] = []
        for id in Set(ids).sorted() {
            guard let (product, available) = try await catalog.find(id: id) else { continue }
            found.append(
                CatalogProduct(
                    id: product.id,
                    sku: product.sku.value,
                    name: product.name,
                    price: product.price.amount,
                    currency: product.price.currency,
                    status: CatalogProduct.Status(rawValue: product.status.rawValue) ?? .archived,
                    available: available
                )
            )
        }
        return found
    }
}

/// ``InventoryClient`` by direct calls into the store.
struct LocalInventoryClient: InventoryClient {
    let inventory: Inventory
    let now: @Sendable () -> Date

    func reserve(id: String, lines: [ReservationLine], expiresIn: Duration) async throws -> Reservation {
        let seconds = try InventoryError.holdSeconds(expiresIn)
        let now = self.now()
        return try await inventory.reserve(id: id, lines: lines, expiresAt: now.addingTimeInterval(TimeInterval(seconds)), at: now)
    }

    func commit(id: String) async throws -> Reservation {
        try await inventory.commit(id: id, at: now())
    }

    func release(id: String) async throws -> Reservation {
        try await inventory.release(id: id, at: now())
    }

    func restock(id: String) async throws -> Reservation {
        try await inventory.restock(id: id, at: now())
    }
}
