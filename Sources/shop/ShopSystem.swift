import Foundation
import Gateway
import Hummingbird
import Logging
import ObjectStorage
import Platform
import ProductService
import Redis
import ServiceLifecycle
import UserService

/// The composition root: builds the concrete graph for one run mode, once.
struct ShopSystem: Sendable {
    let settings: Settings
    /// The services this process runs (`--service`): both, or one of them.
    let users: UserService?
    let products: ProductService?
    let tokens: AccessTokens
    let rateLimits: any RateLimitStore
    let metrics: ShopMetrics
    let bus: any EventBus
    /// What feeds the consumers: nothing extra in process (the relay hands events over),
    /// one reader per consumer group on Redis Streams.
    let consumerServices: [any Service]
    /// Every event consumer of the services in this process.
    let consumers: [EventConsumer]
    /// The databases that hold consumers' inboxes and dead letters, by service.
    let consumerDatabases: [(service: String, database: any Database)]
    let redisClients: [RedisClient]
    let databases: [any Database]
    /// Pools that must run in the service group (PostgreSQL clients).
    let databaseServices: [any Service]

    /// Opens the databases the chosen mode needs (creating SQLite files as required).
    static func open(_ settings: Settings, logger: Logger) async throws -> ShopSystem {
        var databases: [any Database] = []
        var services: [any Service] = []
        func database(_ name: String, url: DatabaseURL?) async throws -> any Database {
            if let url {
                let postgres = PostgresDatabase(url: url, logger: logger)
                services.append(postgres)
                databases.append(postgres)
                return postgres
            }
            try FileManager.default.createDirectory(atPath: settings.dataDirectory, withIntermediateDirectories: true)
            let sqlite = try await SQLiteDatabase.open(path: settings.sqlitePath(for: name), logger: logger)
            databases.append(sqlite)
            return sqlite
        }
        let tokens = AccessTokens(
            keys: try loadSigningKeys(settings.signingKeySource, logger: logger),
            issuer: settings.tokenIssuer, audience: settings.tokenAudience, lifetime: settings.accessTokenLifetime)
        var users: UserService?
        if settings.service.runsUsers {
            users = UserService(
                database: try await database("users", url: settings.usersDatabaseURL),
                tokens: tokens, passwordCost: settings.passwordCost)
        }
        let consumers = users?.consumers ?? []
        let metrics = ShopMetrics()
        var stockRedis: RedisClient?
        var redisClients: [RedisClient] = []
        let rateLimits: any RateLimitStore
        let bus: any EventBus
        var consumerServices: [any Service] = []
        if let url = settings.redisURL {
            // Short timeouts: the guard must answer promptly even when Redis does not.
            let limits = RedisClient(
                .init(url: url, connectTimeout: settings.redisTimeout, commandTimeout: settings.redisTimeout), logger: logger)
            let events = RedisClient(.init(url: url), logger: logger)
            redisClients = [limits, events]
            stockRedis = events
            rateLimits = RedisRateLimitStore(redis: limits)
            let streams = RedisStreamsEventBus(redis: events, url: url, logger: logger, metrics: metrics)
            bus = streams
            consumerServices = consumers.map { streams.consumerService($0) }
        } else {
            rateLimits = InMemoryRateLimitStore()
            let inProcess = InProcessEventBus(logger: logger, metrics: metrics)
            for consumer in consumers { inProcess.subscribe(consumer) }
            bus = inProcess
        }
        var products: ProductService?
        if settings.service.runsProducts {
            let storage: any ObjectStorage = try settings.s3.map { S3Storage($0, timeout: .seconds(settings.s3Timeout.components.seconds)) }
                ?? LocalFolderStorage(root: URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("blobs"))
            products = try ProductService(
                database: try await database("products", url: settings.productsDatabaseURL), redis: stockRedis,
                images: ImageSettings(storage: storage, maxBytes: settings.imageMaxBytes, publicBaseURL: settings.imagesBaseURL),
                cacheTTL: settings.catalogCacheTTL, metrics: metrics, logger: logger)
        }
        return ShopSystem(
            settings: settings, users: users, products: products, tokens: tokens, rateLimits: rateLimits, metrics: metrics, bus: bus,
            consumerServices: consumerServices, consumers: consumers,
            consumerDatabases: users.map { [("users", $0.database)] } ?? [], redisClients: redisClients, databases: databases, databaseServices: services)
    }

    private static func loadSigningKeys(_ source: SigningKeySource, logger: Logger) throws -> SigningKeySet {
        do {
            switch source {
            case .pem(let pem):
                return try SigningKeySet(pem: pem)
            case .file(let path):
                return try SigningKeySet(pem: try String(contentsOfFile: path, encoding: .utf8))
            case .generated(let path):
                let created = !FileManager.default.fileExists(atPath: path)
                let keys = try SigningKeySet.loadOrCreate(path: path)
                if created { logger.notice("made a development signing key", metadata: ["path": "\(path)"]) }
                return keys
            }
        } catch let error as InvalidValue {
            throw ConfigurationError(variable: "JWT_SIGNING_KEYS", reason: error.reason)
        }
    }

    /// Applies every service's migrations.
    func migrate(logger: Logger) async throws {
        try await users?.migrate(logger: logger)
        try await products?.migrate(logger: logger)
    }

    /// Runs `body` with the PostgreSQL pools running (for commands that are not servers).
    func withDatabases(_ body: @Sendable @escaping () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in databaseServices {
                group.addTask { try await service.run() }
            }
            defer { group.cancelAll() }
            try await body()
        }
    }

    /// The HTTP application for this mode; `onRunning` hears the bound port.
    func application(
        logger: Logger,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Gateway.makeRouter(
            health: (users?.healthChecks ?? []) + (products?.healthChecks ?? []), tokens: tokens, rateLimits: rateLimits,
            configuration: settings.guardConfiguration, metrics: metrics
        ) { api in
            users?.addRoutes(to: api)
            products?.addRoutes(to: api)
        } assets: { router in
            products?.addPublicRoutes(to: router)
            if let token = settings.internalToken { products?.addInternalRoutes(to: router, token: token) }
        }
        let host = settings.host
        // Workers that read the schema start once it is migrated.
        let migrated = StartGate()
        var app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: settings.port), serverName: nil),
            services: databaseServices + workers(logger: logger).map(migrated.guarding),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("listening on http://\(host):\(port)", metadata: ["service": "\(settings.service.rawValue)"])
                await onRunning(port)
            },
            logger: logger
        )
        app.beforeServerStarts {
            try await migrate(logger: logger)
            migrated.open()
        }
        return app
    }

    /// Every service's background work, and a relay for every outbox.
    private func workers(logger: Logger) -> [any Service] {
        var workers = (users?.backgroundServices(logger: logger) ?? []) + consumerServices
        var outboxes: [EventOutbox] = []
        if let users { outboxes.append(users.outbox) }
        if let products {
            workers += products.backgroundServices(logger: logger)
            outboxes.append(products.outbox)
        }
        workers += outboxes.map { OutboxRelay(outbox: $0, bus: bus, logger: logger, metrics: metrics) }
        return workers
    }

    func close() async {
        for database in databases {
            try? await database.close()
        }
        for client in redisClients { client.shutdown() }
    }
}
