import Foundation
import Logging
import NIOHTTP1
import Platform
import SQLKit
import Synchronization
import TestSupport
import Testing

/// Many instances, one truth: the gateway in front of two instances of every service, each
/// its own `shop serve` process, on PostgreSQL and Redis Streams. Shoppers browse, fill
/// carts and check out through the gateway while one instance of each service in turn is
/// killed with SIGKILL. Requests keep being answered, and at the end the books agree:
/// every confirmed order has one captured payment, its stock committed and its receipt
/// sent once; nothing else was charged, held or sent.
@Suite struct ScaleOutProcessTests {
    typealias ShopProcess = ProcessTests.ShopProcess

    static let services = ["users", "products", "payments", "notifications", "orders"]
    static let initialStock: Int64 = 5_000

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func aStorefrontLoadLosesNothingWhileOneInstanceOfEachServiceIsKilled() async throws {
        try await ProcessBackends.with(databases: Self.services.count) { backends, urls in
            let shared = backends.merging([
                "NOTIFICATIONS_SECRET": String(repeating: "s", count: 40), "NOTIFICATIONS_POLL_MS": "100",
                // A killed Orders' checkouts are taken over after their lease.
                "PAYMENT_PROVIDER_TIMEOUT_MS": "1000", "ORDERS_LEASE_SECONDS": "4",
                "GATEWAY_HEALTH_INTERVAL_MS": "250", "SHUTDOWN_DRAIN_SECONDS": "0",
            ]) { $1 }
            let database = Dictionary(uniqueKeysWithValues: zip(Self.services, urls))
            func environment(_ service: String, _ more: [String: String] = [:]) -> [String: String] {
                ProcessBackends.environment(shared, database: database[service]!, more)
            }
            try await ProcessBackends.createAdmin(shared, usersDatabase: database["users"]!)

            // Two of each; Orders calls both instances of Products, Payments and Users. Only
            // Users holds the signing keys: every other process verifies tokens with the
            // public keys Users publishes (and reads them from the survivor after the kill).
            var instances: [String: [ShopProcess]] = [:]
            instances["users"] = try (0..<2).map { _ in
                try ShopProcess(["serve", "--service", "users", "--port", "0"], environment: environment("users"))
            }
            var usersURLs: [String] = []
            for process in instances["users"]! { usersURLs.append("http://127.0.0.1:\(try await process.port())") }
            let verifyOnly = ["JWT_SIGNING_KEYS_FILE": "", "JWT_JWKS_URL": usersURLs.joined(separator: ",")]
            for service in ["products", "payments", "notifications"] {
                instances[service] = try (0..<2).map { _ in
                    try ShopProcess(["serve", "--service", service, "--port", "0"], environment: environment(service, verifyOnly))
                }
            }
            func list(_ service: String, internalListener: Bool = false) async throws -> String {
                var urls: [String] = []
                for process in instances[service]! {
                    let port = internalListener ? try await process.internalPort() : try await process.port()
                    urls.append("http://127.0.0.1:\(port)")
                }
                return urls.joined(separator: ",")
            }
            let ordersEnvironment = environment(
                "orders",
                verifyOnly.merging([
                    "PRODUCTS_INTERNAL_URL": try await list("products", internalListener: true),
                    "PAYMENTS_INTERNAL_URL": try await list("payments", internalListener: true),
                    "USERS_URL": try await list("users"),
                ]) { $1 }
            )
            instances["orders"] = try (0..<2).map { _ in
                try ShopProcess(["serve", "--service", "orders", "--port", "0"], environment: ordersEnvironment)
            }
            var upstreams: [String: String] = [:]
            for service in Self.services { upstreams["\(service.uppercased())_URL"] = try await list(service) }
            let gateway = try ShopProcess(
                ["serve", "--service", "gateway", "--port", "0"],
                environment: shared.merging(upstreams) { $1 }.merging(verifyOnly) { $1 }
            )
            let shop = RunningShop(port: try await gateway.port())
            let admin = shop.signedIn(as: try await shop.logIn("root@example.com").access)
            var created: [Int64] = []
            for number in 1...4 {
                created.append(try await OrdersEndToEndTests.product(admin, "scale-\(number)", price: 1000 * number, stock: Int(Self.initialStock)))
            }
            let products = created

            // Shoppers for 36 seconds; one instance of each service killed every 6.
            let tally = Tally()
            let stop = ContinuousClock.now + .seconds(36)
            let killed = Self.services.map { instances[$0]![0] }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for shopper in 0..<6 {
                    group.addTask {
                        var round = 0
                        while ContinuousClock.now < stop {
                            try await Self.shop(shop.anonymous, products: products, shopper: shopper, round: round, tally: tally)
                            round += 1
                        }
                    }
                }
                group.addTask {
                    for (index, process) in killed.enumerated() {
                        try await Task.sleep(for: .seconds(index == 0 ? 3 : 6))
                        kill(process.process.processIdentifier, SIGKILL)
                    }
                }
                try await group.waitForAll()
            }
            for process in killed { #expect(try await process.waitForExit() == 128 + SIGKILL) }

            let counts = tally.counts
            print(
                "scale-out: \(counts.requests) requests, \(counts.checkouts) checkouts answered \(counts.checkoutStatuses) \(counts.conflicts), failed: \(counts.failures)"
            )
            // About 900 on a quiet 2-core machine, 400 under CI; a slower one still sends some.
            #expect(counts.requests >= 100, "the load ran")
            #expect(counts.failures.count * 1000 < counts.requests, "fewer than 0.1% failed: \(counts.failures)")

            // The books, once the survivors have finished what the killed ones left.
            let books = try await Self.settledBooks(database)
            print("scale-out: \(books.confirmed.count) confirmed, \(books.refunded) refunded, \(books.status.count) orders in all")
            #expect(books.pending.isEmpty, "no checkout is left halfway: \(books.pending)")
            #expect(!books.confirmed.isEmpty)
            let unpaid = books.confirmed.filter { books.captured[$0.key] != $0.value }
            let paidForNothing = books.captured.filter { books.confirmed[$0.key] == nil }
            #expect(unpaid.isEmpty, "each confirmed order is paid in full: \(unpaid) captured \(unpaid.keys.map { books.captured[$0] })")
            #expect(
                paidForNothing.isEmpty,
                "nothing is kept for an order that is not confirmed: \(paidForNothing.keys.map { ($0, books.status[$0]) })"
            )
            #expect(books.overcharged.isEmpty, "no order paid twice or more than its total: \(books.overcharged)")
            #expect(books.held == 0, "no stock is held for an order that ended")
            #expect(Set(books.committed.keys) == Set(books.confirmed.keys), "stock is committed for exactly the confirmed orders")
            for product in products {
                let sold = books.soldByProduct[product] ?? 0
                #expect(try await OrdersEndToEndTests.available(admin, product) == Self.initialStock - sold, "product \(product)")
            }
            #expect(books.unsentEvents == 0, "every event left the outbox")
            #expect(books.receipts == Set(books.confirmed.keys), "one receipt for each confirmed order, none for others")
            #expect(books.receiptRows == books.receipts.count, "no receipt twice")

            let survivors = [gateway] + Self.services.map { instances[$0]![1] }
            for process in survivors { kill(process.process.processIdentifier, SIGTERM) }
            for process in survivors { #expect(try await process.waitForExit() == 0, "\(process.log)") }
        }
    }

    /// What the shoppers saw.
    final class Tally: Sendable {
        struct Counts {
            var requests = 0
            var checkouts = 0
            var checkoutStatuses: [Int: Int] = [:]
            /// What each 409 to a checkout said.
            var conflicts: [String] = []
            var failures: [String] = []
        }

        private let state = Mutex(Counts())
        var counts: Counts { state.withLock { $0 } }

        func answered(_ what: String, _ result: HTTPResult?, expected: Set<Int>) {
            state.withLock { counts in
                counts.requests += 1
                if what == "checkout", let result {
                    counts.checkouts += 1
                    counts.checkoutStatuses[result.status, default: 0] += 1
                    if result.status == 409 { counts.conflicts.append(result.json?["error"]?["message"]?.string ?? "?") }
                }
                guard let result else {
                    counts.failures.append("\(what): no answer")
                    return
                }
                if !expected.contains(result.status) {
                    counts.failures.append("\(what): \(result.status) \(String(decoding: result.body.prefix(300), as: UTF8.self))")
                }
            }
        }
    }

    /// One shopper's round: the list, a product, a new cart with a line, a checkout. Every
    /// POST carries an `Idempotency-Key`, as a careful client's do, so the gateway may send
    /// it again to another instance.
    static func shop(_ shop: RunningShop, products: [Int64], shopper: Int, round: Int, tally: Tally) async throws {
        func send(
            _ what: String,
            _ method: NIOHTTPMethod,
            _ path: String,
            headers: [(String, String)] = [],
            json: String? = nil,
            expected: Set<Int>
        ) async -> HTTPResult? {
            let result = try? await shop.request(method, path, headers: headers, json: json)
            tally.answered(what, result, expected: expected)
            return result
        }
        let product = products[(shopper + round) % products.count]
        _ = await send("list", .GET, "/api/v1/products?per_page=20", expected: [200])
        _ = await send("product", .GET, "/api/v1/products/\(product)", expected: [200])
        let key = "scale-\(shopper)-\(round)"
        guard let cart = await send("cart", .POST, "/api/v1/carts", headers: [("Idempotency-Key", "cart-\(key)")], expected: [201]),
            let token = cart.json?["data"]?["cart_token"]?.string
        else { return }
        let line = await send(
            "line",
            .PUT,
            "/api/v1/cart/lines/\(product)",
            headers: [("X-Cart-Token", token)],
            json: #"{"quantity":\#(1 + round % 3)}"#,
            expected: [200]
        )
        guard line?.status == 200 else { return }
        // 201 confirmed, 202 waiting on the payment's outcome (also the answer when the
        // gateway sent it again to the other instance after the killed one had placed the
        // order: the survivor answers that order as it stands, and finishes it); 409 when it
        // came there before the order was written, while the killed one's claim of the key
        // still stood.
        _ = await send(
            "checkout",
            .POST,
            "/api/v1/orders",
            headers: [("X-Cart-Token", token), ("Idempotency-Key", "order-\(key)")],
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa", email: "shopper\(shopper)@example.com"),
            expected: [201, 202, 409]
        )
    }

    typealias NIOHTTPMethod = NIOHTTP1.HTTPMethod

    struct Books {
        var pending: [String] = []
        var status: [String: String] = [:]
        /// Confirmed orders and their totals.
        var confirmed: [String: Int64] = [:]
        /// What was captured, by order, for orders with a succeeded payment.
        var captured: [String: Int64] = [:]
        var overcharged: [String] = []
        var held = 0
        /// Committed reservations, by order id.
        var committed: [String: Int] = [:]
        var soldByProduct: [Int64: Int64] = [:]
        var unsentEvents = 0
        var receipts: Set<String> = []
        var receiptRows = 0
        /// Payments given back (a charge that landed after its order was given up).
        var refunded = 0
    }

    /// Reads every service's database until no order is pending, no event unsent and every
    /// confirmed order has its receipt (two minutes at most: a killed consumer's events are
    /// claimed by the other after 30 s), then returns what they hold.
    static func settledBooks(_ database: [String: DatabaseURL]) async throws -> Books {
        var books = Books()
        for _ in 0..<240 {
            books = try await readBooks(database)
            if books.pending.isEmpty, books.unsentEvents == 0, books.held == 0, books.receipts.isSuperset(of: books.confirmed.keys),
                books.captured.keys.allSatisfy({ books.confirmed[$0] != nil })
            {
                break
            }
            try await Task.sleep(for: .milliseconds(500))
        }
        return books
    }

    static func readBooks(_ database: [String: DatabaseURL]) async throws -> Books {
        var books = Books()
        let orders = try await query(database["orders"]!) { sql in
            let orders = try await sql.raw("SELECT id, status, total FROM orders").all().map {
                (
                    try $0.decode(column: "id", as: String.self), try $0.decode(column: "status", as: String.self),
                    try $0.decode(column: "total", as: Int64.self)
                )
            }
            let sold = try await sql.raw(
                """
                SELECT l.product_id, SUM(l.quantity) AS sold FROM order_lines l JOIN orders o ON o.id = l.order_id
                WHERE o.status = 'confirmed' GROUP BY l.product_id
                """
            ).all().map { (try $0.decode(column: "product_id", as: Int64.self), try $0.decode(column: "sold", as: Int64.self)) }
            return (orders, sold, try await unsent(sql))
        }
        for (id, status, total) in orders.0 {
            if status == "pending" { books.pending.append(id) }
            if status == "confirmed" { books.confirmed[id] = total }
            books.status[id] = status
        }
        books.soldByProduct = Dictionary(uniqueKeysWithValues: orders.1)
        books.unsentEvents += orders.2

        let payments = try await query(database["payments"]!) { sql in
            let rows = try await sql.raw("SELECT order_id, status, amount_captured - amount_refunded AS kept FROM payments").all().map {
                (
                    try $0.decode(column: "order_id", as: String.self), try $0.decode(column: "status", as: String.self),
                    try $0.decode(column: "kept", as: Int64.self)
                )
            }
            let refunded = try await sql.raw("SELECT COUNT(*) AS n FROM payments WHERE amount_refunded > 0").first()?.decode(
                column: "n",
                as: Int.self
            )
            return (rows, try await unsent(sql), refunded ?? 0)
        }
        for (order, status, captured) in payments.0 where captured > 0 || (status == "succeeded" && books.confirmed[order] != nil) {
            if books.captured[order] != nil { books.overcharged.append(order) }
            books.captured[order, default: 0] += captured
        }
        for (order, amount) in books.captured where books.confirmed[order].map({ amount > $0 }) ?? false {
            books.overcharged.append(order)
        }
        books.unsentEvents += payments.1
        books.refunded = payments.2

        let reservations = try await query(database["products"]!) { sql in
            let rows = try await sql.raw("SELECT id, state FROM reservations").all().map {
                (try $0.decode(column: "id", as: String.self), try $0.decode(column: "state", as: String.self))
            }
            return (rows, try await unsent(sql))
        }
        for (id, state) in reservations.0 {
            if state == "held" { books.held += 1 }
            if state == "committed" { books.committed[id, default: 0] += 1 }
        }
        books.unsentEvents += reservations.1

        let receipts = try await query(database["notifications"]!) { sql in
            try await sql.raw("SELECT order_id FROM notifications WHERE event_type = 'order.confirmed' AND channel = 'email'").all().map {
                try $0.decode(column: "order_id", as: String.self)
            }
        }
        books.receiptRows = receipts.count
        books.receipts = Set(receipts)
        return books
    }

    private static func unsent(_ sql: any SQLDatabase) async throws -> Int {
        try await sql.raw("SELECT COUNT(*) AS n FROM outbox WHERE sent_at IS NULL").first()?.decode(column: "n", as: Int.self) ?? 0
    }

    private static func query<Result: Sendable>(
        _ url: DatabaseURL,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        var logger = Logger(label: "books")
        logger.logLevel = .warning
        let database = PostgresDatabase(url: url, maxConnections: 1, logger: logger)
        return try await database.withRunning {
            try await database.read { try await body($0) }
        }
    }
}
