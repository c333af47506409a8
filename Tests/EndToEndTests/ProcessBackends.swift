import Foundation
import Platform
import TestSupport
import Testing

/// What a test of several `shop serve` processes shares: a private Redis, a signing key
/// file, new PostgreSQL databases, and the environment that names the first two with the
/// internal API token.
enum ProcessBackends {
    static func with(databases count: Int, _ body: @Sendable ([String: String], [DatabaseURL]) async throws -> Void) async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        let shared = [
            "JWT_SIGNING_KEYS_FILE": keys, "REDIS_URL": "redis://127.0.0.1:\(redis.port)", "INTERNAL_API_TOKEN": TestServer.internalToken,
        ]
        defer { redis.stop() }
        try await TestDatabases.withPostgresURLs(count) { try await body(shared, $0) }
    }

    /// One service's environment: the shared one, its own database, and `more`.
    static func environment(_ shared: [String: String], database: DatabaseURL, _ more: [String: String] = [:]) -> [String: String] {
        shared.merging(["DATABASE_URL": CheckoutCrashTests.text(database)]) { $1 }.merging(more) { $1 }
    }

    /// Where an Orders process finds the others: Products' and Payments' internal listeners,
    /// Users' public one.
    static func ordersUpstreams(
        users: ProcessTests.ShopProcess,
        products: ProcessTests.ShopProcess,
        payments: ProcessTests.ShopProcess
    )
        async throws -> [String: String]
    {
        [
            "PRODUCTS_INTERNAL_URL": "http://127.0.0.1:\(try await products.internalPort())",
            "PAYMENTS_INTERNAL_URL": "http://127.0.0.1:\(try await payments.internalPort())",
            "USERS_URL": "http://127.0.0.1:\(try await users.port())",
        ]
    }

    /// Makes `root@example.com` an admin in Users' database, as an operator does before the
    /// first start.
    static func createAdmin(_ shared: [String: String], usersDatabase: DatabaseURL) async throws {
        let setup = try ProcessTests.ShopProcess(
            ["users", "create-admin", "--email", "root@example.com"],
            environment: environment(
                shared,
                database: usersDatabase,
                ["SHOP_ADMIN_PASSWORD": RunningShop.password, "USERS_DATABASE_URL": CheckoutCrashTests.text(usersDatabase)]
            )
        )
        #expect(try await setup.waitForExit() == 0, "\(setup.log)")
    }
}
