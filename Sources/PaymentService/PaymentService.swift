import AsyncHTTPClient
public import Foundation
public import Hummingbird
public import Logging
public import PaymentAPI
public import Platform
public import ServiceLifecycle

/// The Payments service: charges that never happen twice, refunds, providers behind one
/// protocol, signed webhooks, and a ledger of every movement of money.
public struct PaymentService: Sendable {
    public struct Settings: Sendable {
        /// How long one provider call may take before its outcome counts as unknown.
        public var providerTimeout: Duration
        /// How long an uncaptured authorization is held before it is voided.
        public var authorizationTTL: Duration
        /// How long a payment waits on the provider before the reconciler asks about it.
        public var reconcileAfter: Duration
        public var reconcileEvery: Duration
        /// How old an unanswered charge must be before the provider's "never heard of it"
        /// fails it (so the customer may try again).
        public var lostAfter: Duration
        /// How long a customer has to complete a required action (3-D Secure).
        public var actionTTL: Duration

        public init(
            providerTimeout: Duration = .seconds(10),
            authorizationTTL: Duration = .seconds(7 * 24 * 3600),
            reconcileAfter: Duration = .seconds(30),
            reconcileEvery: Duration = .seconds(5),
            lostAfter: Duration = .seconds(600),
            actionTTL: Duration = .seconds(3600)
        ) {
            self.actionTTL = actionTTL
            self.lostAfter = lostAfter
            self.providerTimeout = providerTimeout
            self.authorizationTTL = authorizationTTL
            self.reconcileAfter = reconcileAfter
            self.reconcileEvery = reconcileEvery
        }
    }

    /// Which provider takes the money.
    public enum ProviderChoice: Sendable {
        /// The simulated network, its books in this service's database.
        case test(TestNetwork.Settings)
        case stripe(any PaymentProvider)
    }

    let store: PaymentStore
    let payments: Payments
    /// The simulated network when it is the provider, for its settlement job.
    public let testNetwork: TestNetwork?
    let settings: Settings
    let now: @Sendable () -> Date

    public init(
        database: any Database,
        provider: ProviderChoice,
        settings: Settings = Settings(),
        breaker: CircuitBreaker? = nil,
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        let store = PaymentStore(database: database)
        let chosen: any PaymentProvider
        switch provider {
        case .test(let networkSettings):
            let network = TestNetwork(database: database, settings: networkSettings, now: now)
            testNetwork = network
            chosen = network
        case .stripe(let stripe):
            testNetwork = nil
            chosen = stripe
        }
        self.store = store
        self.payments = Payments(
            store: store,
            provider: chosen,
            timeout: settings.providerTimeout,
            authorizationTTL: settings.authorizationTTL,
            reconcileAfter: settings.reconcileAfter,
            lostAfter: settings.lostAfter,
            actionTTL: settings.actionTTL,
            breaker: breaker,
            logger: logger,
            now: now
        )
        self.settings = settings
        self.now = now
    }

    public var database: any Database { store.database }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { PaymentMigrations.all }

    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(store.database)
    }

    /// Adds `/payments` (reads, capture, void, refunds) and the provider's webhook route.
    /// The public paths this service serves, as prefixes: the gateway sends every route
    /// under them here.
    public static let publicPathPrefixes = ["/api/v1/payments"]

    /// The provider's webhook, named after the provider chosen at start (the document
    /// lists the test network's only): the gateway sends any provider's here.
    public static let providerWebhookPath = "/api/v1/payments/webhooks/{provider}"

    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        let idempotency = IdempotencyMiddleware(store: IdempotencyStore(database: store.database), now: now)
        WebhookRoutes(payments: payments, now: now).add(to: group)
        PaymentRoutes(payments: payments, now: now).add(to: group, idempotency: idempotency)
    }

    /// Adds `/internal/v1/payments`, checkout's calls for an order service in another process.
    public func addInternalRoutes(to router: Router<ShopRequestContext>, token: String) {
        InternalPaymentRoutes(client: LocalPaymentClient(payments: payments), token: token).add(to: router)
    }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] {
        [.database("payments database", store.database)]
    }

    /// Where this service's events wait for the relay.
    public var outbox: EventOutbox { store.outbox }

    /// The demo payments `shop seed` makes (through the test network only).
    public var demoPayments: DemoPayments { DemoPayments(payments: payments) }

    /// The in-process payment client the order service uses in the single-process mode.
    public var client: any PaymentClient { LocalPaymentClient(payments: payments) }

    /// The reconciler, the idempotency purge, and the test network's settlement.
    public func backgroundServices(logger: Logger) -> [any Service] {
        var services = PaymentJobs(payments: payments, database: store.database, reconcileEvery: settings.reconcileEvery, now: now).services(
            logger: logger
        )
        if let testNetwork { services.append(testNetwork.settlementService(logger: logger)) }
        return services
    }

    /// Tells the test network where to deliver its webhooks, once this service listens.
    public func listening(on baseURL: String) {
        testNetwork?.deliverWebhooks(to: baseURL + "/api/v1/payments/webhooks/test")
    }
}
