import Foundation
import Gateway
import Platform
import Testing

@testable import shop

/// What `--service gateway` needs, and how a wrong upstream address is named.
@Suite struct GatewaySettingsTests {
    static let complete = [
        "INTERNAL_PORT": "9080", "REDIS_URL": "redis://127.0.0.1:6379", "JWT_SIGNING_KEYS": "pem",
        "INTERNAL_API_TOKEN": TestServer.internalToken, "USERS_URL": "http://users-1:8080, http://users-2:8080/",
        "PRODUCTS_URL": "http://products:8080", "ORDERS_URL": "https://orders.internal", "PAYMENTS_URL": "http://payments:8080",
        "NOTIFICATIONS_URL": "http://[::1]:8080",
    ]

    private func refusal(_ changes: [String: String?], service: ServiceName = .gateway) -> String? {
        var environment = Self.complete
        for (name, value) in changes { environment[name] = value }
        do {
            _ = try Settings(environment: environment, service: service)
            return nil
        } catch {
            return "\(error)"
        }
    }

    @Test func everyUpstreamIsReadWithItsInstances() throws {
        let settings = try Settings(environment: Self.complete, service: .gateway)
        #expect(settings.upstreams[.users]?.map(\.description) == ["http://users-1:8080", "http://users-2:8080"])
        #expect(settings.upstreams[.orders]?.map(\.description) == ["https://orders.internal:443"])
        #expect(settings.upstreams[.notifications]?.map(\.description) == ["http://[::1]:8080"])
        #expect(settings.gatewayTimeouts == RouteTimeouts())
        var environment = Self.complete
        environment["GATEWAY_TIMEOUT_SECONDS"] = "20"
        environment["GATEWAY_READ_TIMEOUT_SECONDS"] = "3"
        environment["GATEWAY_ROUTE_TIMEOUTS"] = "POST /api/v1/orders=45"
        let tuned = try Settings(environment: environment, service: .gateway).gatewayTimeouts
        #expect(tuned.writes == .seconds(20) && tuned.reads == .seconds(3))
        #expect(tuned.routes == RouteTimeouts.builtIn.merging(["POST /api/v1/orders": .seconds(45)]) { $1 })
        #expect(settings.gatewayHealthInterval == .milliseconds(2000))
        #expect(settings.guardConfiguration.gatewayToken == nil, "the gateway believes no gateway header")
        let users = try Settings(environment: Self.complete, service: .users)
        #expect(users.guardConfiguration.gatewayToken == TestServer.internalToken)
    }

    @Test func eachMissingUpstreamIsNamed() {
        for variable in ["USERS_URL", "PRODUCTS_URL", "ORDERS_URL", "PAYMENTS_URL", "NOTIFICATIONS_URL", "INTERNAL_API_TOKEN", "REDIS_URL"] {
            #expect(refusal([variable: nil])?.hasPrefix(variable) == true, "\(variable)")
        }
        #expect(refusal(["JWT_SIGNING_KEYS": nil])?.contains("JWT_SIGNING_KEYS") == true)
    }

    @Test func aWrongAddressIsNamedWithoutItsPassword() {
        for wrong in [
            "users:8080", "ftp://users:8080", "http://users:8080/api", "http://users:8080?x=1", "http://users:8080, http://users:8080", " , ",
        ] {
            #expect(refusal(["USERS_URL": wrong])?.hasPrefix("USERS_URL") == true, "\(wrong)")
        }
        let withPassword = refusal(["PRODUCTS_URL": "http://admin:hunter2@products:8080"])
        #expect(withPassword?.hasPrefix("PRODUCTS_URL") == true)
        #expect(withPassword?.contains("hunter2") == false)
        #expect(refusal(["GATEWAY_TIMEOUT_SECONDS": "0"])?.hasPrefix("GATEWAY_TIMEOUT_SECONDS") == true)
        #expect(refusal(["GATEWAY_READ_TIMEOUT_SECONDS": "-1"])?.hasPrefix("GATEWAY_READ_TIMEOUT_SECONDS") == true)
        #expect(refusal(["GATEWAY_ROUTE_TIMEOUTS": "GET /api/v1/products"])?.hasPrefix("GATEWAY_ROUTE_TIMEOUTS") == true)
        #expect(refusal(["GATEWAY_HEALTH_INTERVAL_MS": "10"])?.hasPrefix("GATEWAY_HEALTH_INTERVAL_MS") == true)
    }

    @Test func ordersAloneCallsEveryInstanceItIsGiven() throws {
        var environment = Self.complete
        environment["PRODUCTS_INTERNAL_URL"] = "http://products-1:9080, http://products-2:9080/"
        environment["PAYMENTS_INTERNAL_URL"] = "http://payments:9080"
        let settings = try Settings(environment: environment, service: .orders)
        #expect(settings.usersURL == "http://users-1:8080,http://users-2:8080")
        #expect(settings.productsInternalURL == "http://products-1:9080,http://products-2:9080/")
        #expect(settings.paymentsInternalURL == "http://payments:9080")
        for wrong in ["http://products-1:9080,", "http://products-1:9080,ftp://products-2", "http://p:1?x=1,http://q:2"] {
            environment["PRODUCTS_INTERNAL_URL"] = wrong
            #expect(throws: ConfigurationError.self, "\(wrong)") { try Settings(environment: environment, service: .orders) }
        }
    }

    /// Every process but Users may verify tokens with the keys Users publishes instead of
    /// holding the signing keys; Users, which signs, may not.
    @Test func aProcessThatOnlyVerifiesNeedsTheJWKSInsteadOfTheKeys() throws {
        var environment = Self.complete
        environment["JWT_SIGNING_KEYS"] = nil
        environment["JWT_JWKS_URL"] = "http://users-1:8080, http://users-2:8080/"
        for service in [ServiceName.gateway, .products] {
            let settings = try Settings(environment: environment, service: service)
            #expect(settings.jwksURL == "http://users-1:8080,http://users-2:8080", "\(service)")
            #expect(settings.signingKeys == nil)
        }
        #expect(refusal(["JWT_SIGNING_KEYS": nil, "JWT_JWKS_URL": "http://users:8080"], service: .users)?.contains("JWT_SIGNING_KEYS_FILE") == true)
        #expect(refusal(["JWT_SIGNING_KEYS": nil])?.contains("JWT_JWKS_URL") == true, "the error names the other way")
        for wrong in [
            "users:8080", "http://users:8080/.well-known/jwks.json", "ftp://users", " , ", "http://u:1?x=1", "http://admin:secret@users:8080",
        ] {
            #expect(refusal(["JWT_SIGNING_KEYS": nil, "JWT_JWKS_URL": wrong])?.hasPrefix("JWT_JWKS_URL") == true, "\(wrong)")
        }
    }
}
