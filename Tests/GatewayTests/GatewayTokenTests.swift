import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOCore
import Platform
import Testing

/// A service behind the gateway: it still verifies tokens, but leaves rate limits to the
/// gateway for requests that show the gateway's token, and only for those.
@Suite struct GatewayTokenTests {
    static let header = HTTPField.Name("X-Shop-Gateway")!
    static let forwardedFor = HTTPField.Name("X-Forwarded-For")!

    private func service(limit: Int, store: any RateLimitStore = InMemoryRateLimitStore()) -> Router<ShopRequestContext> {
        var configuration = GuardConfiguration()
        configuration.defaultPolicy = RateLimitPolicy(name: "default", limit: limit, window: .seconds(60))
        configuration.gatewayToken = GatewayHarness.token
        return Gateway.makeRouter(health: [], tokens: GuardTests.tokens, rateLimits: store, configuration: configuration) { api in
            api.get("products") { _, context in
                try JSONResponse.success([
                    "client": context.clientAddress ?? "none", "user": context.principal.map { String($0.userID) } ?? "anonymous",
                ])
            }
        }
    }

    @Test func requestsShowingTheGatewayTokenAreNotLimitedAgain() async throws {
        try await Application(router: service(limit: 2)).test(.router) { client in
            for _ in 0..<5 {
                let headers: HTTPFields = [Self.header: GatewayHarness.token, Self.forwardedFor: "203.0.113.9, 198.51.100.7"]
                try await client.execute(uri: "/api/v1/products", method: .get, headers: headers) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[HTTPField.Name("RateLimit")!] == nil)
                    #expect(String(buffer: response.body).contains(#""client":"198.51.100.7""#), "the address the gateway appended")
                }
            }
        }
    }

    @Test func aForgedGatewayHeaderIsIgnored() async throws {
        try await Application(router: service(limit: 2)).test(.router) { client in
            let forged: HTTPFields = [Self.header: "not-the-token", Self.forwardedFor: "198.51.100.7"]
            for expected in [HTTPResponse.Status.ok, .ok, .tooManyRequests] {
                try await client.execute(uri: "/api/v1/products", method: .get, headers: forged) { response in
                    #expect(response.status == expected)
                    #expect(!String(buffer: response.body).contains("198.51.100.7"), "X-Forwarded-For believed without the token")
                }
            }
        }
    }

    @Test func tokensAreVerifiedEvenForTheGateway() async throws {
        try await Application(router: service(limit: 100)).test(.router) { client in
            let headers: HTTPFields = [Self.header: GatewayHarness.token, .authorization: "Bearer nonsense"]
            try await client.execute(uri: "/api/v1/products", method: .get, headers: headers) { response in
                #expect(response.status == .unauthorized)
            }
        }
    }

    @Test func aRequestThroughTheGatewayIsCountedOnce() async throws {
        let shared = InMemoryRateLimitStore()
        try await GatewayHarness.withServer(service(limit: 100, store: shared)) { servicePort in
            var configuration = GuardConfiguration()
            configuration.defaultPolicy = RateLimitPolicy(name: "default", limit: 100, window: .seconds(60))
            try await GatewayHarness.with(["http://127.0.0.1:\(servicePort)"], configuration: configuration, rateLimits: shared) {
                gateway async throws in
                for remaining in [99, 98, 97] {
                    let answer = try await gateway.request(.GET, "/api/v1/products", headers: [("X-Shop-Gateway", GatewayHarness.token)])
                    #expect(answer.status == 200)
                    #expect(answer.headers["RateLimit"].count == 1, "one count, one header")
                    #expect(answer.headers.first(name: "RateLimit")?.hasPrefix(#""default";r=\#(remaining);"#) == true)
                }
            }
        }
    }
}
