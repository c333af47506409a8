import Crypto
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOFoundationCompat
import Platform
import Testing

/// The gateway's guard in front of `/api/v1`: tokens, limits and their headers.
@Suite struct GuardTests {
    static let tokens = AccessTokens(keys: SigningKeySet([SigningKey(P256.Signing.PrivateKey())]))

    struct BrokenStore: RateLimitStore {
        func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> RateLimitCount {
            throw CancellationError()
        }
    }

    private func withGuard(
        limit: Int = 100,
        store: any RateLimitStore = InMemoryRateLimitStore(),
        failOpen: Bool = true,
        origins: Set<String> = [],
        _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        var configuration = GuardConfiguration()
        configuration.defaultPolicy = RateLimitPolicy(name: "default", limit: limit, window: .seconds(60))
        configuration.failOpen = failOpen
        configuration.allowedOrigins = origins
        let router = Gateway.makeRouter(health: [], tokens: Self.tokens, rateLimits: store, configuration: configuration) { api in
            api.get("whoami") { _, context in
                try JSONResponse.success(["user": context.principal.map { String($0.userID) } ?? "anonymous"])
            }
            api.restricted(to: .roles(.admin)).get("admins") { _, _ in try JSONResponse.success(["ok": true]) }
            api.get("varies") { _, _ in try JSONResponse.success(["ok": true], headers: [.vary: "Authorization"]) }
        }
        try await Application(router: router).test(.router, body)
    }

    private func bearer(_ userID: Int64, _ role: Role = .customer) throws -> HTTPFields {
        [.authorization: "Bearer \(try Self.tokens.issue(userID: userID, role: role, now: Date()).token)"]
    }

    @Test func everyAnswerCarriesTheLimitAndItsRemainder() async throws {
        try await withGuard { client in
            try await client.execute(uri: "/api/v1/whoami", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("RateLimit-Policy")!] == #""default";q=100;w=60"#)
                #expect(response.headers[.init("RateLimit")!]?.hasPrefix(#""default";r=99;t="#) == true)
                #expect(response.headers[.init("X-Content-Type-Options")!] == "nosniff")
            }
            try await client.execute(uri: "/api/v1/nothing-here", method: .get) { response in
                #expect(response.status == .notFound)
                #expect(response.headers[.init("RateLimit")!]?.hasPrefix(#""default";r=98;t="#) == true)
            }
            let token = try Self.tokens.issue(userID: 7, role: .customer, now: Date()).token
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.authorization: "bEaReR  \(token)  "]) { response in
                #expect(String(buffer: response.body).contains(#""user":"7""#), "the scheme is case-insensitive, spaces around the token are fine")
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: try bearer(42)) { response in
                #expect(String(buffer: response.body).contains(#""user":"42""#))
                #expect(response.headers[.init("RateLimit")!]?.hasPrefix(#""default";r=99;t="#) == true, "counted per user")
            }
        }
    }

    @Test func theRequestOverTheLimitIsRefusedWithRetryAfter() async throws {
        try await withGuard(limit: 3) { client in
            for _ in 0..<3 {
                try await client.execute(uri: "/api/v1/whoami", method: .get) { #expect($0.status == .ok) }
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get) { response in
                #expect(response.status == .tooManyRequests)
                let body = String(buffer: response.body)
                #expect(body.contains(#""code":"RATE_LIMITED""#))
                let retry = try #require(response.headers[.retryAfter].flatMap(Int.init))
                #expect((1...60).contains(retry))
                #expect(response.headers[.init("RateLimit")!] == #""default";r=0;t=\#(retry)"#)
            }
        }
    }

    @Test func aBadTokenIsRefusedEvenWhereAnonymousCallersMayGo() async throws {
        try await withGuard { client in
            for header in ["Bearer nonsense", "Basic dXNlcjpwYXNz", "Bearer ", "Bearer", "Bearer a b", "Bearerx abc"] {
                try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.authorization: header]) { response in
                    #expect(response.status == .unauthorized, "\(header)")
                    #expect(String(buffer: response.body).contains(#""code":"UNAUTHENTICATED""#))
                    #expect(response.headers[.wwwAuthenticate] == #"Bearer error="invalid_token""#)
                    #expect(response.headers[.init("RateLimit-Policy")!] != nil)
                }
            }
        }
    }

    @Test func rolesAreCheckedWhereTheRouteDeclaresThem() async throws {
        try await withGuard { client in
            try await client.execute(uri: "/api/v1/admins", method: .get) { #expect($0.status == .unauthorized) }
            try await client.execute(uri: "/api/v1/admins", method: .get, headers: try bearer(1, .staff)) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains(#""code":"FORBIDDEN""#))
            }
            try await client.execute(uri: "/api/v1/admins", method: .get, headers: try bearer(1, .admin)) { #expect($0.status == .ok) }
        }
    }

    @Test func anUnreachableStoreFailsOpenOrClosedAsConfigured() async throws {
        try await withGuard(store: BrokenStore(), failOpen: true) { client in
            try await client.execute(uri: "/api/v1/whoami", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.init("RateLimit-Policy")!] != nil)
                #expect(response.headers[.init("RateLimit")!] == nil)
            }
        }
        try await withGuard(store: BrokenStore(), failOpen: false) { client in
            try await client.execute(uri: "/api/v1/whoami", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains(#""code":"UPSTREAM_UNAVAILABLE""#))
            }
            try await client.execute(uri: "/health/live", method: .get) { #expect($0.status == .ok, "health is not guarded") }
        }
    }

    @Test func corsAnswersAllowedOriginsOnly() async throws {
        try await withGuard(origins: ["https://shop.example"]) { client in
            let preflight: HTTPFields = [.origin: "https://shop.example", .accessControlRequestMethod: "POST"]
            try await client.execute(uri: "/api/v1/whoami", method: .options, headers: preflight) { response in
                #expect(response.status == .noContent)
                #expect(response.headers[.accessControlAllowOrigin] == "https://shop.example")
                #expect(response.headers[.accessControlAllowHeaders]?.contains("Authorization") == true)
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.origin: "https://shop.example"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == "https://shop.example")
                #expect(response.headers[.accessControlExposeHeaders]?.contains("RateLimit") == true)
            }
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.origin: "https://evil.example"]) { response in
                #expect(response.headers[.accessControlAllowOrigin] == nil)
            }
            try await client.execute(uri: "/api/v1/varies", method: .get, headers: [.origin: "https://shop.example"]) { response in
                #expect(response.headers[values: .vary].sorted() == ["Authorization", "Origin"], "a route's Vary is kept")
            }
        }
    }
}
