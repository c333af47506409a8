import AsyncHTTPClient
import Crypto
import Foundation
import Gateway
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NotificationService
import ObjectStorage
import OrderService
import PaymentAPI
import PaymentService
import Platform
import ProductAPI
import ProductService
import Redis
import ServiceContract
import ServiceLifecycle
import UserAPI
import UserService

/// The composition root: builds the concrete graph for one run mode, once.
struct ShopSystem: Sendable {
    let settings: Settings
    /// The services this process runs (`--service`): both, or one of them.
    let users: UserService?
    let products: ProductService?
    let payments: PaymentService?
    /// Orders runs in the all-in-one process, beside the Products and Payments it calls.
    let orders: OrderService?
    let notifications: NotificationService?
    let tokens: AccessTokens
    /// When users' sessions ended, for the guard: Redis with `REDIS_URL`, memory otherwise.
    let sessionCutoffs: any SessionCutoffs
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
    /// The gateway alone: the services it sends requests to, which serves each route, and
    /// the proxy with its client.
    let upstreams: [Upstream]
    let routeTable: GatewayRouteTable?
    let proxy: ReverseProxy?
    let proxyClient: HTTPClient?
    /// Reads Users' public keys, in a process that only verifies tokens.
    let keyFetcher: JWKSFetcher?

    /// Opens the databases the chosen mode needs (creating SQLite files as required).
    static func open(_ settings: Settings, logger: Logger) async throws -> ShopSystem {
        // Settings that can be wrong are checked before anything is opened.
        let notificationSettings = try settings.service.runsNotifications ? settings.notificationServiceSettings() : nil
        if let notificationSettings {
            do {
                try NotificationService.check(notificationSettings)
            } catch let invalid as NotificationService.InvalidSetting {
                throw ConfigurationError(variable: invalid.variable, reason: invalid.reason)
            }
        }
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
        // A command that serves nothing signs nothing: a key of its own, never kept.
        let tokens: AccessTokens
        var keyFetcher: JWKSFetcher?
        if settings.signingKeys == nil, settings.service != .all, settings.service != .users, let jwksURL = settings.jwksURL {
            // Verifies only, with the keys Users publishes: this process can sign nothing.
            let verification = VerificationKeys()
            let fetcher = JWKSFetcher(urls: jwksURL, keys: verification, logger: logger)
            await fetcher.fetchIfDue()
            keyFetcher = fetcher
            tokens = AccessTokens(
                verifyingWith: verification,
                issuer: settings.tokenIssuer,
                audience: settings.tokenAudience,
                lifetime: settings.accessTokenLifetime
            )
        } else {
            let keys =
                settings.purpose == .maintenance && settings.signingKeys == nil
                ? SigningKeySet([SigningKey(P256.Signing.PrivateKey())])
                : try loadSigningKeys(settings.signingKeySource, logger: logger)
            tokens = AccessTokens(
                keys: keys,
                issuer: settings.tokenIssuer,
                audience: settings.tokenAudience,
                lifetime: settings.accessTokenLifetime
            )
        }
        let metrics = ShopMetrics()
        var stockRedis: RedisClient?
        var redisClients: [RedisClient] = []
        let rateLimits: any RateLimitStore
        let sessionCutoffs: any SessionCutoffs
        var redisEvents: (client: RedisClient, url: RedisURL)?
        // Every Users instance's writes, so that what one keeps is dropped when any writes.
        var userWrites: (any SharedWriteCount)?
        if let url = settings.redisURL {
            // Short timeouts: the guard must answer promptly even when Redis does not.
            let limits = RedisClient(
                .init(url: url, connectTimeout: settings.redisTimeout, commandTimeout: settings.redisTimeout),
                logger: logger
            )
            let events = RedisClient(.init(url: url), logger: logger)
            redisClients = [limits, events]
            stockRedis = events
            rateLimits = RedisRateLimitStore(redis: limits)
            // Users' count of writes is read in the session check's round trip, which every
            // signed-in read of a user makes anyway.
            let usersWritesKey = "shop:users:writes"
            sessionCutoffs = RedisSessionCutoffs(redis: limits, readAlong: settings.service.runsUsers ? [usersWritesKey] : [])
            userWrites = RedisSharedWriteCount(redis: limits, key: usersWritesKey)
            redisEvents = (events, url)
        } else {
            rateLimits = InMemoryRateLimitStore()
            sessionCutoffs = InMemorySessionCutoffs()
        }
        var users: UserService?
        if settings.service.runsUsers {
            users = UserService(
                database: try await database("users", url: settings.usersDatabaseURL),
                tokens: tokens,
                sessionCutoffs: sessionCutoffs,
                sharedWrites: userWrites,
                passwordCost: settings.passwordCost,
                passwordHashQueue: settings.passwordHashQueue,
                logger: logger
            )
        }
        // Product images and sales reports: S3 when configured, a local folder otherwise.
        let storage: any ObjectStorage =
            try settings.s3.map { S3Storage($0, timeout: .seconds(settings.s3Timeout.components.seconds)) }
            ?? LocalFolderStorage(root: URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("blobs"))
        var products: ProductService?
        if settings.service.runsProducts {
            products = try ProductService(
                database: try await database("products", url: settings.productsDatabaseURL),
                redis: stockRedis,
                images: ImageSettings(storage: storage, maxBytes: settings.imageMaxBytes, publicBaseURL: settings.imagesBaseURL),
                cacheTTL: settings.catalogCacheTTL,
                productCacheTTL: settings.productCacheTTL,
                metrics: metrics,
                logger: logger
            )
        }
        var payments: PaymentService?
        if settings.service.runsPayments {
            let provider: PaymentService.ProviderChoice
            switch settings.paymentProvider {
            case .test:
                provider = .test(settings.testNetworkSettings)
            case .stripe(let secretKey, let apiBase, let webhookSecret):
                provider = .stripe(
                    StripeProvider(
                        secretKey: secretKey,
                        apiBase: apiBase,
                        webhookSecret: webhookSecret,
                        timeout: .seconds(Int64(settings.payment.providerTimeout.components.seconds) + 1)
                    )
                )
            }
            payments = PaymentService(
                database: try await database("payments", url: settings.paymentsDatabaseURL),
                provider: provider,
                settings: settings.payment,
                breaker: metrics.circuitBreaker(name: "payments-provider"),
                logger: logger
            )
        }
        var orders: OrderService?
        if settings.service.runsOrders {
            let clients = try orderClients(settings, products: products, payments: payments, users: users, metrics: metrics)
            orders = OrderService(
                database: try await database("orders", url: settings.ordersDatabaseURL),
                catalog: clients.catalog,
                inventory: clients.inventory,
                payments: clients.payments,
                users: clients.users,
                storage: storage,
                readDatabase: settings.ordersReadDatabaseURL.map { url in
                    let replica = PostgresDatabase(url: url, logger: logger)
                    services.append(replica)
                    databases.append(replica)
                    return replica
                },
                settings: settings.orders,
                logger: logger
            )
        }
        var notifications: NotificationService?
        if let notificationSettings {
            notifications = try NotificationService(
                database: try await database("notifications", url: settings.notifications.databaseURL),
                settings: notificationSettings,
                metrics: metrics,
                logger: logger
            )
        }
        let consumers = (users?.consumers ?? []) + (orders?.consumers ?? []) + (notifications?.consumers ?? [])
        let bus: any EventBus
        var consumerServices: [any Service] = []
        if let redisEvents {
            let streams = RedisStreamsEventBus(redis: redisEvents.client, url: redisEvents.url, logger: logger, metrics: metrics)
            bus = streams
            consumerServices = consumers.map { streams.consumerService($0) }
        } else {
            let inProcess = InProcessEventBus(logger: logger, metrics: metrics)
            for consumer in consumers { inProcess.subscribe(consumer) }
            bus = inProcess
        }
        let gateway = try gatewayParts(settings, metrics: metrics)
        var consumerDatabases: [(service: String, database: any Database)] = []
        if let users { consumerDatabases.append(("users", users.consumerDatabase)) }
        if let orders { consumerDatabases.append(("orders", orders.database)) }
        if let notifications { consumerDatabases.append(("notifications", notifications.database)) }
        return ShopSystem(
            settings: settings,
            users: users,
            products: products,
            payments: payments,
            orders: orders,
            notifications: notifications,
            tokens: tokens,
            sessionCutoffs: sessionCutoffs,
            rateLimits: rateLimits,
            metrics: metrics,
            bus: bus,
            consumerServices: consumerServices,
            consumers: consumers,
            consumerDatabases: consumerDatabases,
            redisClients: redisClients,
            databases: databases,
            databaseServices: services,
            upstreams: gateway?.upstreams ?? [],
            routeTable: gateway?.routeTable,
            proxy: gateway?.proxy,
            proxyClient: gateway?.client,
            keyFetcher: keyFetcher
        )
    }

    /// What Orders calls: the services in this process, or, alone, the others over HTTP
    /// (each client behind a breaker that `/metrics` shows).
    private static func orderClients(
        _ settings: Settings,
        products: ProductService?,
        payments: PaymentService?,
        users: UserService?,
        metrics: ShopMetrics
    ) throws -> (catalog: any CatalogClient, inventory: any InventoryClient, payments: any PaymentClient, users: (any UserClient)?) {
        if let products, let payments {
            return (products.catalogClient, products.inventoryClient, payments.client, users?.client)
        }
        let configured = settings.internalToken.flatMap { token in
            settings.productsInternalURL.flatMap { products in settings.paymentsInternalURL.map { (token, products, $0) } }
        }
        // A maintenance command (`migrate`, `seed`) builds Orders but never calls the other
        // services: it is not asked where they are, and its clients name hosts that cannot
        // resolve (RFC 6761), so a call made by mistake fails as the service unavailable.
        guard
            let (token, productsURL, paymentsURL) = configured
                ?? (settings.purpose == .maintenance ? ("", "http://products.invalid", "http://payments.invalid") : nil)
        else {
            throw ConfigurationError(variable: "PRODUCTS_INTERNAL_URL", reason: "and PAYMENTS_INTERNAL_URL and INTERNAL_API_TOKEN are required")
        }
        return (
            HTTPCatalogClient(baseURL: productsURL, token: token, breaker: metrics.circuitBreaker(name: "products-catalog")),
            HTTPInventoryClient(baseURL: productsURL, token: token, breaker: metrics.circuitBreaker(name: "products")),
            HTTPPaymentClient(
                baseURL: paymentsURL,
                token: token,
                timeout: .seconds(Int64(settings.payment.providerTimeout.components.seconds) + 5),
                breaker: metrics.circuitBreaker(name: "payments")
            ),
            settings.usersURL.map {
                HTTPUserClient(baseURL: $0, bearerToken: { CallerToken.current }, breaker: metrics.circuitBreaker(name: "users"))
            }
        )
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
        try await payments?.migrate(logger: logger)
        try await orders?.migrate(logger: logger)
        try await notifications?.migrate(logger: logger)
    }

    /// Opens the system for `settings`, runs `body` with it, and closes it whatever
    /// happens: the one way every command starts and ends.
    static func with<Result: Sendable>(
        _ settings: Settings,
        logger: Logger,
        _ body: (ShopSystem) async throws -> Result
    ) async throws -> Result {
        let system = try await open(settings, logger: logger)
        do {
            let result = try await body(system)
            await system.close()
            return result
        } catch {
            await system.close()
            throw error
        }
    }

    /// For the commands that are not servers: `body` with the PostgreSQL pools running
    /// and the schema migrated, then everything closed.
    static func maintain<Result: Sendable>(
        _ settings: Settings,
        logger: Logger,
        _ body: @escaping @Sendable (ShopSystem) async throws -> Result
    ) async throws -> Result {
        try await with(settings, logger: logger) { system in
            try await system.withDatabases {
                try await system.migrate(logger: logger)
                return try await body(system)
            }
        }
    }

    /// Runs `body` with the PostgreSQL pools running (for commands that are not servers).
    func withDatabases<Result: Sendable>(_ body: @Sendable @escaping () async throws -> Result) async throws -> Result {
        try await withThrowingTaskGroup(of: Void.self) { group in
            // The body waits until every pool's task is on its way into `run()`, so its first
            // query does not find a pool not yet running (PostgresNIO warns about that).
            let (started, signal) = AsyncStream<Void>.makeStream()
            for service in databaseServices {
                group.addTask {
                    signal.yield()
                    try await service.run()
                }
            }
            defer { group.cancelAll() }
            var waiting = databaseServices.count
            if waiting > 0 {
                for await _ in started {
                    waiting -= 1
                    if waiting == 0 { break }
                }
            }
            return try await body()
        }
    }

    /// The HTTP servers for this mode: the public one, with the background workers, and the
    /// internal listener when `INTERNAL_PORT` is set. `onRunning` hears the public port,
    /// `onInternalRunning` the internal one.
    func applications(
        logger: Logger,
        drain: ReadinessDrain? = nil,
        onRunning: @escaping @Sendable (Int) async -> Void = { _ in },
        onInternalRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> [any Service] {
        let health =
            (users?.healthChecks ?? []) + (products?.healthChecks ?? []) + (payments?.healthChecks ?? []) + (orders?.healthChecks ?? [])
            + (notifications?.healthChecks ?? []) + (drain.map { [$0.healthCheck] } ?? [])
            + redisClients.prefix(1).map { HealthCheck.redis($0) } + (keyFetcher.map { [$0.healthCheck] } ?? [])
        let router =
            gatewayRouter(health: health)
            ?? Gateway.makeRouter(
                health: health,
                tokens: tokens,
                sessionCutoffs: sessionCutoffs,
                rateLimits: rateLimits,
                configuration: settings.guardConfiguration,
                metrics: metrics
            ) { api in
                users?.addRoutes(to: api)
                products?.addRoutes(to: api)
                payments?.addRoutes(to: api)
                orders?.addRoutes(to: api)
                notifications?.addRoutes(to: api)
            } assets: { router in
                products?.addPublicRoutes(to: router)
            }
        let host = settings.host
        // Workers that read the schema start once it is migrated.
        let migrated = StartGate()
        var app = Application(
            router: router,
            server: server,
            configuration: serverConfiguration(host: host, port: settings.port, logger: logger),
            services: databaseServices + workers(logger: logger).map(migrated.guarding) + upstreamHealthChecks(logger: logger)
                + signingKeyRefresh(logger: logger),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("listening on http://\(host):\(port)", metadata: ["service": "\(settings.service.rawValue)"])
                // The test network reports what settles later to this server's webhook route.
                payments?.listening(on: "http://\(host == "0.0.0.0" || host == "::" ? "127.0.0.1" : host):\(port)")
                await onRunning(port)
            },
            logger: logger
        )
        app.beforeServerStarts {
            try await migrate(logger: logger)
            migrated.open()
        }
        guard let internalPort = settings.internalPort else { return [app] }
        // Loopback unless an operator names a private interface: never every interface.
        let internalHost = settings.internalHost ?? "127.0.0.1"
        let internalRouter = EdgeRouter.makeInternal(health: health, metrics: metrics) { router in
            if let token = settings.internalToken {
                products?.addInternalRoutes(to: router, token: token)
                payments?.addInternalRoutes(to: router, token: token)
            }
        }
        var internalApp = Application(
            router: internalRouter,
            server: server,
            configuration: serverConfiguration(host: internalHost, port: internalPort, logger: logger),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? 0
                logger.notice("internal listener on http://\(internalHost):\(port)", metadata: ["service": "\(settings.service.rawValue)"])
                await onInternalRunning(port)
            },
            logger: logger
        )
        internalApp.beforeServerStarts {
            await migrated.wait()
            try Task.checkCancellation()
        }
        return [app, internalApp]
    }

    /// HTTP/1.1 with the slow-client timeouts and the idle timeout.
    private var server: HTTPServerBuilder {
        let limits = settings.connectionLimits
        let head = TimeAmount(limits.headTimeout), body = TimeAmount(limits.bodyTimeout)
        return .http1(
            configuration: .init(
                additionalChannelHandlers: [SlowClientTimeouts(head: head, body: body)],
                idleTimeout: TimeAmount(limits.idleTimeout)
            )
        )
    }

    private func serverConfiguration(host: String, port: Int, logger: Logger) -> ApplicationConfiguration {
        .init(
            address: .hostname(host, port: port),
            serverName: nil,
            availableConnectionsDelegate: MaximumAvailableConnections(settings.connectionLimits.maxConnections, logger: logger)
        )
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
        if let orders {
            workers += orders.backgroundServices(logger: logger)
            outboxes.append(orders.outbox)
        }
        if let payments {
            workers += payments.backgroundServices(logger: logger)
            outboxes.append(payments.outbox)
        }
        if let notifications {
            workers += notifications.backgroundServices(logger: logger)
            outboxes.append(notifications.outbox)
        }
        workers += outboxes.map { OutboxRelay(outbox: $0, bus: bus, logger: logger, metrics: metrics) }
        return workers
    }

    func close() async {
        await notifications?.shutdown()
        for database in databases {
            try? await database.close()
        }
        for client in redisClients { client.shutdown() }
        try? await proxyClient?.shutdown()
    }
}

extension ShopSystem {
    /// In a process that only verifies tokens: Users' key set read again when due.
    func signingKeyRefresh(logger: Logger) -> [any Service] {
        guard let keyFetcher else { return [] }
        return [PeriodicJob("signing keys", every: .seconds(1), logger: logger) { await keyFetcher.fetchIfDue() }]
    }
}
