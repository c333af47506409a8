public import Foundation
public import Hummingbird
public import Logging
public import ObjectStorage
public import PaymentAPI
public import Platform
public import ProductAPI
public import ServiceLifecycle
public import UserAPI

/// The Orders service: carts (a customer's, or a guest's opened by a token) read with the
/// catalog as it is now and merged at login; checkout as a saga across Products and
/// Payments that a recovery worker finishes when its request cannot; orders after it.
public struct OrderService: Sendable {
    public struct Settings: Sendable {
        /// A guest cart untouched this long is deleted.
        public var guestCartTTL: Duration
        /// How long checkout's stock reservation is held while the payment is made.
        public var reservationHold: Duration
        /// How long the request (or worker) that took an order's last step owns it; after
        /// that the recovery worker takes the next step. Longer than any call a step makes,
        /// so the worker never races a request that is still waiting on an answer.
        public var lease: Duration
        /// How often an order waiting on its payment (3-D Secure, an unknown outcome) is
        /// looked at again.
        public var paymentPoll: Duration
        /// How often the recovery worker looks for orders left halfway.
        public var recoveryInterval: Duration
        /// How often the report builder looks for reports waiting.
        public var reportInterval: Duration = .seconds(1)

        public init(
            guestCartTTL: Duration = .seconds(30 * 86_400),
            reservationHold: Duration = .seconds(15 * 60),
            lease: Duration = .seconds(60),
            paymentPoll: Duration = .seconds(2),
            recoveryInterval: Duration = .seconds(1)
        ) {
            self.guestCartTTL = guestCartTTL
            self.reservationHold = reservationHold
            self.lease = lease
            self.paymentPoll = paymentPoll
            self.recoveryInterval = recoveryInterval
        }
    }

    let carts: Carts
    let checkout: Checkout
    /// Sales reports, when the service has somewhere to put them.
    let reports: Reports?
    let settings: Settings
    let now: @Sendable () -> Date

    public init(
        database: any Database,
        catalog: any CatalogClient,
        inventory: any InventoryClient,
        payments: any PaymentClient,
        users: (any UserClient)?,
        storage: (any ObjectStorage)? = nil,
        readDatabase: (any Database)? = nil,
        settings: Settings = Settings(),
        logger: Logger,
        now: @escaping @Sendable () -> Date = { Date() }
    ) {
        let carts = Carts(store: CartStore(database: database), catalog: catalog, now: now)
        self.carts = carts
        self.checkout = Checkout(
            store: OrderStore(database: database),
            carts: carts,
            inventory: inventory,
            payments: payments,
            users: users,
            settings: settings,
            logger: logger,
            now: now
        )
        self.reports = storage.map {
            Reports(store: ReportStore(database: database), source: readDatabase ?? database, storage: $0, logger: logger, now: now)
        }
        self.settings = settings
        self.now = now
    }

    public var database: any Database { carts.store.database }

    /// Where this service's events wait for the relay.
    public var outbox: EventOutbox { checkout.store.outbox }

    /// The schema this service needs, applied at start.
    public static var migrations: [Migration] { OrderMigrations.all }

    public func migrate(logger: Logger) async throws {
        try await Migrator(Self.migrations, logger: logger).migrate(database)
    }

    /// Adds `/carts`, `/cart` and `/orders` to the `/api/v1` group.
    /// The public paths this service serves, as prefixes: the gateway sends every route
    /// under them here.
    public static let publicPathPrefixes = ["/api/v1/cart", "/api/v1/carts", "/api/v1/orders", "/api/v1/reports"]

    public func addRoutes(to group: RouterGroup<ShopRequestContext>) {
        let group = group.group().add(middleware: UpstreamErrorMiddleware())
        let idempotency = IdempotencyMiddleware(store: IdempotencyStore(database: database), now: now)
        CartRoutes(carts: carts).add(to: group)
        OrderRoutes(checkout: checkout, actions: OrderActions(checkout: checkout), idempotency: idempotency).add(to: group)
        if let reports { ReportRoutes(reports: reports, idempotency: idempotency).add(to: group) }
    }

    /// The events this service handles: a payment that took money for an order that ended
    /// without a sale is refunded.
    public var consumers: [EventConsumer] { [LateChargeRefunds.consumer(database: database)] }

    /// What `/health/ready` must ask for this service.
    public var healthChecks: [HealthCheck] { [.database("orders database", database)] }

    /// The recovery worker and the report builder (every second), and hourly: idle guest
    /// carts purged, old idempotency keys forgotten.
    public func backgroundServices(logger: Logger) -> [any Service] {
        let (store, ttl, now) = (carts.store, settings.guestCartTTL, self.now)
        let database = self.database
        var jobs: [any Service] = []
        if let reports {
            jobs.append(
                PeriodicJob("build reports", every: settings.reportInterval, logger: logger) {
                    while try await reports.buildNext() {}
                }
            )
        }
        return jobs + [
            PeriodicJob("order recovery", every: settings.recoveryInterval, logger: logger) { [checkout] in
                try await Self.recover(checkout, logger: logger)
            },
            PeriodicJob("purge idle guest carts", every: .seconds(3600), logger: logger) {
                try await store.purgeGuestCarts(idleSince: now().addingTimeInterval(-Double(ttl.components.seconds)))
                _ = try await IdempotencyStore(database: database).purge(now: now())
            },
        ]
    }

    /// Takes the next step of every order whose request (or last worker) let its lease run out.
    @discardableResult
    static func recover(_ checkout: Checkout, logger: Logger) async throws -> Int {
        let now = checkout.now()
        let due = try await checkout.store.claimDue(now: now, until: now.addingTimeInterval(checkout.settings.lease.seconds))
        for order in due {
            do {
                let after = try await checkout.advance(order)
                if after.step == .done {
                    logger.info("order recovered", metadata: ["order": "\(order.id)", "status": "\(after.status.rawValue)"])
                }
            } catch {
                // Its lease holds it back until the next try.
                logger.warning("order recovery failed; retrying later", metadata: ["order": "\(order.id)", "error": "\(error)"])
            }
        }
        return due.count
    }

    /// Builds every report waiting (tests).
    public func buildReports() async throws {
        while try await reports?.buildNext() == true {}
    }

    /// Runs the recovery worker once (tests, and `shop` commands).
    public func recoverOnce(logger: Logger) async throws -> Int {
        try await Self.recover(checkout, logger: logger)
    }
}
