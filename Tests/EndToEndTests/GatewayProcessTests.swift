import Foundation
import Platform
import TestSupport
import Testing

/// `shop serve --service gateway` in front of `shop serve --service users`, two real
/// processes on PostgreSQL and one Redis: a customer registers and logs in through it.
@Suite struct GatewayProcessTests {
    typealias ShopProcess = ProcessTests.ShopProcess

    /// A private Redis, a signing key file and a PostgreSQL database for Users, and the
    /// settings every process of a test shares.
    private func withBackends(_ body: @Sendable (DatabaseURL, [String: String]) async throws -> Void) async throws {
        try await ProcessBackends.with(databases: 1) { shared, databases in try await body(databases[0], shared) }
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func aCustomerRegistersAndLogsInThroughTheGateway() async throws {
        try await withBackends { usersDB, backends in
            let shared = backends.merging(["RATE_LIMIT": "1000/60", "RATE_LIMIT_CREDENTIALS": "1000/60"]) { $1 }
            let users = try ShopProcess(
                ["serve", "--service", "users", "--port", "0"],
                environment: shared.merging(["DATABASE_URL": CheckoutCrashTests.text(usersDB)]) { $1 }
            )
            let usersPort = try await users.port()
            // The other services are not running: their addresses refuse connections.
            var upstreams = ["USERS_URL": "http://127.0.0.1:\(usersPort)"]
            for variable in ["PRODUCTS_URL", "ORDERS_URL", "PAYMENTS_URL", "NOTIFICATIONS_URL"] {
                upstreams[variable] = "http://127.0.0.1:\(try freePort())"
            }
            let gateway = try ShopProcess(["serve", "--service", "gateway", "--port", "0"], environment: shared.merging(upstreams) { $1 })
            let shop = RunningShop(port: try await gateway.port())

            let id = try await shop.createUser("ada@example.com", name: "Ada")
            let customer = shop.signedIn(as: try await shop.logIn("ada@example.com").access)
            let me = try await customer.request(.GET, "/api/v1/users/me", headers: [("X-Request-ID", "req_through.gateway")])
            #expect(me.status == 200)
            #expect(me.json?["data"]?["id"]?.integer == id)
            #expect(me.header("X-Request-ID") == "req_through.gateway")
            let limit = try #require(me.header("RateLimit"))
            #expect(limit.hasPrefix(#""default";r="#), "\(limit)")
            let again = try await customer.request(.GET, "/api/v1/users/me")
            let used = { (header: String?) in
                header.flatMap { $0.split(separator: ";").first { $0.hasPrefix("r=") } }.flatMap { Int($0.dropFirst(2)) }
            }
            #expect(used(limit).map { $0 - 1 } == used(again.header("RateLimit")), "counted once, by the gateway")

            let products = try await shop.request(.GET, "/api/v1/products")
            #expect(products.status == 503)
            #expect(products.json?["error"]?["code"]?.string == "UPSTREAM_UNAVAILABLE")
            #expect(products.header("Retry-After") != nil)
            #expect(try await shop.request(.GET, "/api/v1/nothing-here").status == 404)
            #expect(try await shop.request(.GET, "/api/v1/openapi.json").status == 200)

            let metrics = try await RunningShop(port: try await gateway.internalPort()).request(.GET, "/metrics")
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(
                text.contains(#"shop_gateway_upstream_healthy{upstream="users",upstream_instance="http://127.0.0.1:\#(usersPort)"} 1"#),
                "\(text)"
            )

            for process in [gateway, users] { kill(process.process.processIdentifier, SIGTERM) }
            for process in [gateway, users] { #expect(try await process.waitForExit() == 0, "\(process.log)") }
        }
    }

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func readsGoOnWhenOneOfTwoInstancesIsKilled() async throws {
        try await withBackends { usersDB, backends in
            let shared = backends.merging(["DATABASE_URL": CheckoutCrashTests.text(usersDB)]) { $1 }
            let first = try ShopProcess(["serve", "--service", "users", "--port", "0"], environment: shared)
            let firstPort = try await first.port()
            let second = try ShopProcess(["serve", "--service", "users", "--port", "0"], environment: shared)
            let secondPort = try await second.port()
            var upstreams = ["USERS_URL": "http://127.0.0.1:\(firstPort),http://127.0.0.1:\(secondPort)"]
            for variable in ["PRODUCTS_URL", "ORDERS_URL", "PAYMENTS_URL", "NOTIFICATIONS_URL"] {
                upstreams[variable] = "http://127.0.0.1:\(try freePort())"
            }
            let gateway = try ShopProcess(["serve", "--service", "gateway", "--port", "0"], environment: shared.merging(upstreams) { $1 })
            let shop = RunningShop(port: try await gateway.port())
            _ = try await shop.createUser("grace@example.com", name: "Grace")
            let customer = shop.signedIn(as: try await shop.logIn("grace@example.com").access)
            for _ in 0..<4 { #expect(try await customer.request(.GET, "/api/v1/users/me").status == 200) }

            kill(first.process.processIdentifier, SIGKILL)
            for _ in 0..<10 {
                let me = try await customer.request(.GET, "/api/v1/users/me")
                #expect(me.status == 200, "\(String(decoding: me.body, as: UTF8.self))")
            }
            let metrics = try await RunningShop(port: try await gateway.internalPort()).request(.GET, "/metrics")
            let text = String(decoding: metrics.body, as: UTF8.self)
            #expect(text.contains(#"shop_gateway_upstream_healthy{upstream="users",upstream_instance="http://127.0.0.1:\#(firstPort)"} 0"#))
            #expect(text.contains(#"shop_gateway_upstream_healthy{upstream="users",upstream_instance="http://127.0.0.1:\#(secondPort)"} 1"#))

            for process in [gateway, second] { kill(process.process.processIdentifier, SIGTERM) }
            for process in [gateway, second] { #expect(try await process.waitForExit() == 0, "\(process.log)") }
        }
    }
}
