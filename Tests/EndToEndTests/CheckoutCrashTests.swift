import Foundation
import Platform
import TestSupport
import Testing

/// The real binary on PostgreSQL, killed (`SIGKILL`, as `kill -9`) at each step of
/// checkout, then started again: the recovery worker finishes or undoes the order, and
/// stock, payments and orders agree afterwards.
@Suite struct CheckoutCrashTests {
    enum Expected: Sendable {
        /// Given up before the charge: nothing taken, every unit back, the cart open again.
        case cancelled
        /// Paid before the crash: finished, the stock gone, the money taken once.
        case confirmed
    }

    static let points: [(String, Expected)] = [
        ("checkout.after-order", .cancelled),
        ("checkout.after-reserve", .cancelled),
        ("checkout.after-charge", .confirmed),
        ("checkout.after-commit", .confirmed),
    ]

    @Test(arguments: points.map(\.0))
    func aCheckoutKilledAtAnyStepIsFinishedOrUndoneAfterARestart(_ point: String) async throws {
        let expected = try #require(Self.points.first { $0.0 == point }?.1)
        try await TestDatabases.withPostgresURL { users in
            try await TestDatabases.withPostgresURL { products in
                try await TestDatabases.withPostgresURL { payments in
                    try await TestDatabases.withPostgresURL { orders in
                        let databases = [
                            "USERS_DATABASE_URL": Self.text(users), "PRODUCTS_DATABASE_URL": Self.text(products),
                            "PAYMENTS_DATABASE_URL": Self.text(payments), "ORDERS_DATABASE_URL": Self.text(orders),
                            // The worker takes over 4 s after the checkout began; a charge is answered within 1 s.
                            "ORDERS_LEASE_SECONDS": "4", "PAYMENT_PROVIDER_TIMEOUT_MS": "1000",
                        ]
                        try await Self.crashAndRecover(at: point, expected: expected, environment: databases)
                    }
                }
            }
        }
    }

    static func crashAndRecover(at point: String, expected: Expected, environment: [String: String]) async throws {
        let setup = try ProcessTests.ShopProcess(
            ["users", "create-admin", "--email", "root@example.com"],
            environment: environment.merging(["SHOP_ADMIN_PASSWORD": RunningShop.password]) { $1 }
        )
        #expect(try await setup.waitForExit() == 0, "\(setup.log)")
        let doomed = try ProcessTests.ShopProcess(
            ["serve", "--port", "0"],
            environment: environment.merging(["SHOP_FAILPOINTS": point]) { $1 },
            dataDirectory: setup.dataDirectory
        )
        var shop = RunningShop(port: try await doomed.port())
        var admin = shop.signedIn(as: try await shop.logIn("root@example.com").access)
        let lamp = try await OrdersEndToEndTests.product(admin, "crash-lamp", price: 2500, stock: 5)
        #expect(try await admin.request(.PUT, "/api/v1/cart/lines/\(lamp)", json: #"{"quantity":2}"#).status == 200)
        let placed = try? await admin.request(
            .POST,
            "/api/v1/orders",
            headers: [("Idempotency-Key", "crash")],
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
        )
        #expect(placed == nil, "the process died before answering, at \(point)")
        #expect(try await doomed.waitForExit() == 128 + SIGKILL, "killed by its fail point")

        let restarted = try ProcessTests.ShopProcess(["serve", "--port", "0"], environment: environment, dataDirectory: setup.dataDirectory)
        shop = RunningShop(port: try await restarted.port())
        admin = shop.signedIn(as: try await shop.logIn("root@example.com").access)
        var order: JSONValue?
        // The worker takes over after the lease; a loaded machine may take a while longer.
        for _ in 0..<300 {
            order = try await admin.request(.GET, "/api/v1/orders").json?["data"]?.array?.first
            if let status = order?["status"]?.string, status != "pending" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        let id = try #require(order?["id"]?.string, "\(restarted.log)")
        // The client retries with its key, kept on the order the dead process placed: the
        // retry is answered that order as it stands, never a second checkout of the cart.
        let retried = try await admin.request(
            .POST,
            "/api/v1/orders",
            headers: [("Idempotency-Key", "crash")],
            json: OrdersEndToEndTests.checkout(card: "pm_card_visa")
        )
        #expect(retried.header("Idempotent-Replayed") == "true")
        let payment = try await admin.request(.GET, "/api/v1/payments?order_id=\(id)").json?["data"]?.array?.first
        let available = try await OrdersEndToEndTests.available(admin, lamp)
        switch expected {
        case .cancelled:
            #expect(order?["status"]?.string == "cancelled", "\(restarted.log)")
            // Closed to charges before the stock went back: a record, never money.
            #expect(payment?["status"]?.string == "canceled", "nothing was charged")
            #expect(payment?["failure"]?["code"]?.string == "order_closed")
            #expect(payment?["amount_captured"]?.integer == 0)
            #expect(available == 5, "every unit came back")
            #expect(retried.status == 409)
            #expect(retried.json?["error"]?["message"]?.string?.hasPrefix("Order \(id) was cancelled") == true, "\(retried.json as Any)")
            // The cart can be changed and checked out again.
            #expect(try await admin.request(.PUT, "/api/v1/cart/lines/\(lamp)", json: #"{"quantity":1}"#).status == 200)
        case .confirmed:
            #expect(order?["status"]?.string == "confirmed", "\(restarted.log)")
            #expect(payment?["status"]?.string == "succeeded")
            #expect(payment?["amount_captured"]?.integer == 5000, "taken once, in full")
            #expect(available == 3, "the two units are the order's")
            #expect(retried.status == 201)
            #expect(retried.json?["data"]?["id"]?.string == id)
            #expect(retried.json?["data"]?["status"]?.string == "confirmed")
            #expect(try await admin.request(.GET, "/api/v1/cart").json?["data"]?["lines"]?.array?.isEmpty == true, "the cart was sold")
        }
        // One order, whatever the retries.
        #expect(try await admin.request(.GET, "/api/v1/orders?per_page=1").json?["meta"]?["total"]?.integer == 1)
        kill(restarted.process.processIdentifier, SIGTERM)
        #expect(try await restarted.waitForExit() == 0)
    }

    static func text(_ url: DatabaseURL) -> String {
        "postgres://\(url.username)\(url.password.map { ":\($0)" } ?? "")@\(url.host):\(url.port)/\(url.database)"
    }
}
