import Foundation
import PaymentAPI
import Platform
import SQLKit
import TestSupport
import Testing

/// `shop serve --service payments`: the Payments service alone on PostgreSQL and Redis, as
/// production runs it, charged through the internal API as Orders in another process
/// charges it; and killed with `kill -9` while a charge is with the provider.
@Suite struct PaymentsProcessTests {
    typealias ShopProcess = ProcessTests.ShopProcess

    static let internalToken = String(repeating: "5e", count: 20)

    static func charge(_ order: String, number: String, customer: Int64 = 7) -> NewPayment {
        NewPayment(
            orderID: order,
            customerID: customer,
            amount: 2500,
            currency: "EUR",
            paymentMethod: PaymentMethodBody(card: CardBody(number: number, expMonth: 12, expYear: 2034, cvc: "123"))
        )
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func paymentsAloneChargeOnceAcrossAKillNineMidCharge() async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        let signing = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        try await TestDatabases.withPostgresURL { url in
            let environment = [
                "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)", "JWT_SIGNING_KEYS_FILE": keys,
                "REDIS_URL": "redis://127.0.0.1:\(redis.port)", "INTERNAL_API_TOKEN": Self.internalToken, "PAYMENTS_PROVIDER": "test",
                // The slow card answers after 3 s, well inside the provider timeout: the
                // kill lands while the network holds the charge and the service waits.
                "TEST_NETWORK_SLOW_DELAY_MS": "3000", "PAYMENT_PROVIDER_TIMEOUT_MS": "20000",
                "PAYMENT_RECONCILE_AFTER_SECONDS": "1", "PAYMENT_RECONCILE_EVERY_MS": "200",
            ]
            var shop = try ShopProcess(["serve", "--service", "payments", "--port", "0"], environment: environment)
            let port = try await shop.port()
            var client = HTTPPaymentClient(baseURL: "http://127.0.0.1:\(try await shop.internalPort())", token: Self.internalToken)
            let paid = try await client.createPayment(Self.charge("order-1", number: "4242424242424242"), idempotencyKey: "checkout-1")
            #expect(paid.status == .succeeded)
            // Staff and the paying customer read it with tokens from Users' shared keys; another customer cannot.
            let tokens = AccessTokens(keys: signing)
            let staff = RunningShop(port: port, token: try tokens.issue(userID: 1, role: .staff, now: Date()).token)
            let owner = RunningShop(port: port, token: try tokens.issue(userID: 7, role: .customer, now: Date()).token)
            let stranger = RunningShop(port: port, token: try tokens.issue(userID: 8, role: .customer, now: Date()).token)
            #expect(try await staff.request(.GET, "/health/ready").status == 200)
            #expect(try await staff.request(.GET, "/api/v1/payments/\(paid.id)").status == 200)
            #expect(try await owner.request(.GET, "/api/v1/payments/\(paid.id)").status == 200)
            #expect(try await stranger.request(.GET, "/api/v1/payments/\(paid.id)").status == 404)
            await #expect(throws: PaymentError.declined(code: "card_declined", message: "Your card was declined.", paymentID: "")) {
                _ = try await client.createPayment(Self.charge("order-2", number: "4000000000000002"), idempotencyKey: "checkout-2")
            }

            // An order that Orders gave up on before its charge arrived, closed over the
            // internal API: the late charge is refused, and closing a paid order answers its payment.
            #expect(try await client.closeToCharges(orderID: "order-given-up", ChargeClosure(customerID: 7, amount: 2500, currency: "EUR")) == nil)
            await #expect(throws: PaymentError.conflict("Order order-given-up was closed before its charge arrived; nothing was charged")) {
                _ = try await client.createPayment(Self.charge("order-given-up", number: "4242424242424242"), idempotencyKey: "checkout-given-up")
            }
            #expect(try await client.closeToCharges(orderID: "order-1", ChargeClosure(customerID: 7, amount: 2500, currency: "EUR"))?.id == paid.id)
            await #expect(throws: PaymentError.invalid(field: "amount", message: "Must be from 1 to 100000000 minor units")) {
                _ = try await client.closeToCharges(orderID: "order-x", ChargeClosure(customerID: 7, amount: 0, currency: "EUR"))
            }

            // A charge in flight when the process dies.
            let first = client
            let inFlight = Task { try await first.createPayment(Self.charge("order-3", number: "4000000000000119"), idempotencyKey: "checkout-3") }
            try await Task.sleep(for: .milliseconds(1200))
            kill(shop.process.processIdentifier, SIGKILL)
            _ = try await shop.waitForExit()
            await #expect(throws: (any Error).self) { _ = try await inFlight.value }

            shop = try ShopProcess(["serve", "--service", "payments", "--port", "0"], environment: environment)
            _ = try await shop.port()
            client = HTTPPaymentClient(baseURL: "http://127.0.0.1:\(try await shop.internalPort())", token: Self.internalToken)
            // Orders retries with its key: the same payment, settled by the network and the
            // reconciler of the new process, charged once.
            var settled = try #require(try await client.payment(orderID: "order-3"))
            for _ in 0..<100 where settled.status != .succeeded {
                try await Task.sleep(for: .milliseconds(100))
                settled = try #require(try await client.payment(orderID: "order-3"))
            }
            #expect(settled.status == .succeeded)
            let retried = try await client.createPayment(Self.charge("order-3", number: "4000000000000119"), idempotencyKey: "checkout-3")
            #expect(retried.id == settled.id)
            #expect(retried.amountCaptured == 2500)

            let database = PostgresDatabase(url: url, maxConnections: 2, logger: TestDatabases.logger)
            let paymentID = settled.id
            let counts = try await database.withRunning {
                try await database.read { sql in
                    var counts: [Int] = []
                    for query: SQLQueryString in [
                        "SELECT COUNT(*) AS n FROM test_network_intents WHERE payment_id = \(bind: paymentID)",
                        "SELECT COUNT(*) AS n FROM payment_ledger WHERE payment_id = \(bind: paymentID) AND kind = 'capture'",
                        "SELECT CAST(SUM(amount) AS BIGINT) AS n FROM payment_ledger WHERE kind = 'capture'",
                        "SELECT COUNT(*) AS n FROM outbox WHERE type = 'payment.completed'",
                        "SELECT COUNT(*) AS n FROM payments WHERE pending_action IS NOT NULL",
                    ] {
                        counts.append(try await sql.raw(query).first(decodingColumn: "n", as: Int.self) ?? -1)
                    }
                    return counts
                }
            }
            // One charge at the network, one capture booked, two payments' money in all,
            // one event each, nothing left waiting.
            #expect(counts == [1, 1, 5000, 2, 0])
            kill(shop.process.processIdentifier, SIGTERM)
            #expect(try await shop.waitForExit() == 0)
            #expect(!shop.log.contains("4000000000000119") && !shop.log.contains("4242424242424242"), "card numbers are never logged")
            #expect(!shop.log.contains(Self.internalToken), "the service token is never logged")
        }
    }
}
