import Foundation
import Platform
import TestSupport
import Testing

/// One service per process, as production runs: Users, Products, Payments and Orders as
/// four `shop serve --service ...` processes on PostgreSQL and one Redis, Orders calling
/// the others over HTTP. 200 guests buy the last 50 units through the Orders process.
@Suite struct OrdersProcessTests {
    typealias ShopProcess = ProcessTests.ShopProcess

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func ordersAloneSellExactlyTheStockThroughProductsAndPaymentsInOtherProcesses() async throws {
        try await ProcessBackends.with(databases: 4) { shared, databases in
            let (usersDB, productsDB, paymentsDB, ordersDB) = (databases[0], databases[1], databases[2], databases[3])
            func environment(_ database: DatabaseURL, _ more: [String: String] = [:]) -> [String: String] {
                ProcessBackends.environment(shared, database: database, more)
            }
            try await ProcessBackends.createAdmin(shared, usersDatabase: usersDB)
            let users = try ShopProcess(["serve", "--service", "users", "--port", "0"], environment: environment(usersDB))
            let products = try ShopProcess(["serve", "--service", "products", "--port", "0"], environment: environment(productsDB))
            let payments = try ShopProcess(["serve", "--service", "payments", "--port", "0"], environment: environment(paymentsDB))
            let usersPort = try await users.port()
            let orders = try ShopProcess(
                ["serve", "--service", "orders", "--port", "0"],
                environment: environment(ordersDB, try await ProcessBackends.ordersUpstreams(users: users, products: products, payments: payments))
            )
            let token = try await RunningShop(port: usersPort).logIn("root@example.com").access
            let catalog = RunningShop(port: try await products.port(), token: token)
            let shop = RunningShop(port: try await orders.port(), token: token)
            let payer = RunningShop(port: try await payments.port(), token: token)
            try await Self.sellTheLastFifty(shop: shop, catalog: catalog, payments: payer, ownEmail: "root@example.com")
            for process in [orders, payments, products, users] { kill(process.process.processIdentifier, SIGTERM) }
            for process in [orders, payments, products, users] { #expect(try await process.waitForExit() == 0, "\(process.log)") }
        }
    }

    /// Migrating Orders' database needs that database and nothing else: not where the
    /// services it calls when serving are.
    @Test(.enabled(if: TestDatabases.postgresAvailable))
    func ordersMigrateWithNothingButTheirDatabase() async throws {
        try await TestDatabases.withPostgresURL { url in
            let migrate = try ShopProcess(["migrate", "--service", "orders"], environment: ["DATABASE_URL": CheckoutCrashTests.text(url)])
            #expect(try await migrate.waitForExit() == 0, "\(migrate.log)")
            #expect(migrate.log.contains("migrations applied"), "\(migrate.log)")
        }
    }

    /// The signed-in caller of `shop` buys one of 51 units (their address from Users), then
    /// 200 guests race for the other 50: exactly 50 more are sold and charged, 150 refused
    /// with nothing charged. `catalog` and `payments` are where Products and Payments answer.
    static func sellTheLastFifty(shop: RunningShop, catalog: RunningShop, payments: RunningShop, ownEmail: String) async throws {
        let lamp = try await OrdersEndToEndTests.product(catalog, "split-lamp", price: 4500, stock: 51)
        // A signed-in customer's address comes from Users, asked with the customer's own token.
        #expect(try await shop.request(.PUT, "/api/v1/cart/lines/\(lamp)", json: #"{"quantity":1}"#).status == 200)
        let own = try await shop.request(
            .POST,
            "/api/v1/orders",
            headers: [("Idempotency-Key", "own")],
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
        )
        #expect(own.status == 201, "\(String(decoding: own.body, as: UTF8.self))")
        #expect(own.json?["data"]?["email"]?.string == ownEmail)

        let guest = shop.anonymous
        var tokens: [String] = []
        for _ in 0..<200 {
            let token = try #require(try await guest.request(.POST, "/api/v1/carts").json?["data"]?["cart_token"]?.string)
            #expect(
                try await guest.request(.PUT, "/api/v1/cart/lines/\(lamp)", headers: [("X-Cart-Token", token)], json: #"{"quantity":1}"#).status
                    == 200
            )
            tokens.append(token)
        }
        let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
            for (index, token) in tokens.enumerated() {
                group.addTask {
                    try await guest.request(
                        .POST,
                        "/api/v1/orders",
                        headers: [("X-Cart-Token", token), ("Idempotency-Key", "split-\(index)")],
                        json: OrdersEndToEndTests.checkout(card: "pm_card_visa", email: "buyer\(index)@example.com")
                    ).status
                }
            }
            return try await group.reduce(into: [Int: Int]()) { $0[$1, default: 0] += 1 }
        }
        #expect(statuses == [201: 50, 409: 150])
        func total(_ on: RunningShop, _ path: String) async throws -> Int64? {
            try await on.request(.GET, path).json?["meta"]?["total"]?.integer
        }
        #expect(try await total(shop, "/api/v1/orders?status=confirmed&per_page=1") == 51)
        #expect(try await total(shop, "/api/v1/orders?status=cancelled&per_page=1") == 150)
        #expect(try await total(payments, "/api/v1/payments?status=succeeded&per_page=1") == 51)
        #expect(try await total(payments, "/api/v1/payments?per_page=1") == 51, "nothing was charged for the 150")
        #expect(try await OrdersEndToEndTests.available(catalog, lamp) == 0)
    }

    @Test func ordersAloneRefuseToStartWithoutWhereTheOtherServicesAre() async throws {
        let shop = try ShopProcess(
            ["serve", "--service", "orders"],
            environment: ["DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "PRODUCTS_INTERNAL_URL": "http://127.0.0.1:1"]
        )
        #expect(try await shop.waitForExit() != 0)
        #expect(shop.log.contains("PAYMENTS_INTERNAL_URL is required when Orders runs alone"), "\(shop.log)")
        let wrong = try ShopProcess(["serve", "--service", "orders"], environment: ["PRODUCTS_INTERNAL_URL": "products:9090"])
        #expect(try await wrong.waitForExit() != 0)
        #expect(wrong.log.contains("PRODUCTS_INTERNAL_URL"), "\(wrong.log)")
    }
}
