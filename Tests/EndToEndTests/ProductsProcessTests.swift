import Foundation
import Platform
import ProductAPI
import TestSupport
import Testing

/// `shop serve --service products`: the Products service alone on PostgreSQL and Redis,
/// as production runs it, with the internal reservation API an order service calls.
@Suite struct ProductsProcessTests {
    typealias ShopProcess = ProcessTests.ShopProcess

    static let internalToken = String(repeating: "7f", count: 20)

    @Test(.enabled(if: TestDatabases.postgresAvailable && RedisServer.available))
    func productsAloneServeTheCatalogAndReserveStockOverHTTP() async throws {
        let redis = try RedisServer()
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        let signing = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        try await TestDatabases.withPostgresURL { url in
            let environment = [
                "DATABASE_URL": "postgres://\(url.username)@\(url.host):\(url.port)/\(url.database)", "JWT_SIGNING_KEYS_FILE": keys,
                "REDIS_URL": "redis://127.0.0.1:\(redis.port)", "INTERNAL_API_TOKEN": Self.internalToken,
            ]
            let shop = try ShopProcess(["serve", "--service", "products", "--port", "0"], environment: environment)
            let port = try await shop.port()
            // Staff tokens come from Users elsewhere; the keys are shared, so one is made here.
            let staffToken = try AccessTokens(keys: signing).issue(userID: 7, role: .staff, now: Date()).token
            let staff = RunningShop(port: port, token: staffToken)
            #expect(try await staff.request(.GET, "/health/ready").status == 200)
            #expect(try await staff.request(.GET, "/api/v1/users/me").status == 404, "Users runs elsewhere")

            let created = try await staff.request(
                .POST,
                "/api/v1/products",
                json: #"{"sku":"kettle-1","name":"Kettle","price":{"amount":3900,"currency":"EUR"},"status":"active"}"#
            )
            let id = try #require(created.json?["data"]?["id"]?.integer)
            _ = try await staff.request(.POST, "/api/v1/products/\(id)/inventory/adjustments", json: #"{"change":3,"reason":"delivery"}"#)
            #expect(try await staff.anonymous.request(.GET, "/api/v1/products/by-slug/kettle").json?["data"]?["available"]?.integer == 3)

            let internalURL = "http://127.0.0.1:\(try await shop.internalPort())"
            #expect(try await staff.request(.POST, "/internal/v1/reservations", json: "{}").status == 404, "never on the public port")
            let client = HTTPInventoryClient(baseURL: internalURL, token: Self.internalToken, requestID: { "order-flow-1" })
            let first = try await client.reserve(id: "order-1", lines: [ReservationLine(productID: id, quantity: 2)], expiresIn: .seconds(600))
            #expect(first.state == .held && first.lines == [ReservationLine(productID: id, quantity: 2)])
            #expect(
                try await client.reserve(id: "order-1", lines: [ReservationLine(productID: id, quantity: 2)], expiresIn: .seconds(600)) == first,
                "a retry answers the reservation made"
            )
            await #expect(throws: InventoryError.outOfStock(productID: id)) {
                try await client.reserve(id: "order-2", lines: [ReservationLine(productID: id, quantity: 2)], expiresIn: .seconds(600))
            }
            await #expect(throws: InventoryError.unknownProduct(productID: 999_999)) {
                try await client.reserve(
                    id: "order-3",
                    lines: [ReservationLine(productID: id, quantity: 1), ReservationLine(productID: 999_999, quantity: 1)],
                    expiresIn: .seconds(600)
                )
            }
            #expect(
                try await staff.anonymous.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 1,
                "the refused all-or-nothing reservation took nothing"
            )
            #expect(try await client.commit(id: "order-1").state == .committed)
            #expect(try await client.commit(id: "order-1").state == .committed, "committing twice answers, once")
            await #expect(throws: InventoryError.conflict("Reservation order-1 is committed")) { try await client.release(id: "order-1") }
            await #expect(throws: InventoryError.reservationNotFound(id: "no/such-order")) { try await client.release(id: "no/such-order") }

            let stranger = HTTPInventoryClient(baseURL: internalURL, token: "not-the-token")
            await #expect(throws: InventoryClientError.self) {
                try await stranger.reserve(id: "order-4", lines: [ReservationLine(productID: id, quantity: 1)], expiresIn: .seconds(60))
            }
            #expect(try await staff.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 1)
            // The catalog as an order service in another process reads it for carts.
            let catalog = HTTPCatalogClient(baseURL: internalURL, token: Self.internalToken)
            let read = try await catalog.products(ids: [id, 999_999, id])
            #expect(read.map(\.id) == [id], "unknown ids are left out, repeated ones read once")
            #expect(read.first?.name == "Kettle" && read.first?.price == 3900 && read.first?.status == .active && read.first?.available == 1)
            await #expect(throws: CatalogClientError.self) {
                _ = try await HTTPCatalogClient(baseURL: internalURL, token: "not-the-token").products(ids: [id])
            }
            #expect(try await staff.request(.GET, "/internal/v1/products?ids=\(id)").status == 404, "never on the public port")
            // The paid order is cancelled: its committed units come back, once.
            #expect(try await client.restock(id: "order-1").state == .returned)
            #expect(try await client.restock(id: "order-1").state == .returned, "restocking twice answers, once")
            #expect(try await staff.request(.GET, "/api/v1/products/\(id)").json?["data"]?["available"]?.integer == 3)
            await #expect(throws: InventoryError.conflict("Reservation order-1 is returned")) { try await client.commit(id: "order-1") }
            await #expect(throws: InventoryError.reservationNotFound(id: "no/such-order")) { try await client.restock(id: "no/such-order") }
            let held = try await client.reserve(id: "order-5", lines: [ReservationLine(productID: id, quantity: 1)], expiresIn: .seconds(600))
            await #expect(throws: InventoryError.conflict("Reservation order-5 is held")) { try await client.restock(id: held.id) }
            let refused = try await RunningShop(port: try await shop.internalPort(), token: Self.internalToken).request(
                .GET,
                "/internal/v1/products?ids=1,x"
            )
            #expect(refused.status == 422)
            kill(shop.process.processIdentifier, SIGTERM)
            #expect(try await shop.waitForExit() == 0)
            #expect(shop.log.contains("order-flow-1"), "the caller's request id is in the access log")
            #expect(!shop.log.contains(Self.internalToken), "the service token is never logged")
        }
    }

    @Test func productsAloneWithoutAnInternalTokenStopWithItsName() async throws {
        let keys = FileManager.default.temporaryDirectory.appendingPathComponent("keys-\(UUID().uuidString).pem").path
        _ = try SigningKeySet.loadOrCreate(path: keys)
        defer { try? FileManager.default.removeItem(atPath: keys) }
        for service in ["products", "payments"] {
            // The tests' own token is taken away: an empty value is no value.
            let shop = try ShopProcess(
                ["serve", "--service", service, "--port", "0"],
                environment: ["JWT_SIGNING_KEYS_FILE": keys, "INTERNAL_API_TOKEN": ""]
            )
            #expect(try await shop.waitForExit() != 0)
            #expect(shop.log.contains("INTERNAL_API_TOKEN"), "\(service): \(shop.log)")
        }
    }

    @Test func anUnreachableProductsServiceIsUnavailableNotAHang() async throws {
        let client = HTTPInventoryClient(baseURL: "http://127.0.0.1:1", token: Self.internalToken, timeout: .seconds(1))
        await #expect(throws: InventoryError.invalidExpiry("A reservation is held for 1 second to 24 hours")) {
            try await client.reserve(id: "o", lines: [ReservationLine(productID: 1, quantity: 1)], expiresIn: .seconds(90_000))
        }
        await #expect(throws: InventoryClientError.self) {
            try await client.reserve(id: "o", lines: [ReservationLine(productID: 1, quantity: 1)], expiresIn: .seconds(60))
        }
    }
}
