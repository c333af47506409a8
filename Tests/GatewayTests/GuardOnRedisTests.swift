import Crypto
import Foundation
import Gateway
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Logging
import Platform
import Redis
import TestSupport
import Testing

/// The guard with its counters and the users' session cutoffs in one real Redis: a revoked
/// token is refused, and counted against its sender, never its user.
@Suite struct GuardOnRedisTests {
    static let tokens = AccessTokens(keys: SigningKeySet([SigningKey(P256.Signing.PrivateKey())]))
    static let policy = HTTPField.Name("RateLimit")!

    @Test(.enabled(if: RedisServer.available))
    func aRevokedTokenIsRefusedAndCountedAgainstItsSenderNotItsUser() async throws {
        let server = try RedisServer()
        let redis = RedisClient(
            .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
            logger: Logger(label: "guard-redis-test")
        )
        defer { redis.shutdown() }
        let cutoffs = RedisSessionCutoffs(redis: redis)
        var configuration = GuardConfiguration()
        configuration.defaultPolicy = RateLimitPolicy(name: "default", limit: 100, window: .seconds(60))
        let router = Gateway.makeRouter(
            health: [],
            tokens: Self.tokens,
            sessionCutoffs: cutoffs,
            rateLimits: RedisRateLimitStore(redis: redis),
            configuration: configuration
        ) { api in
            api.get("whoami") { _, context in
                try JSONResponse.success(["user": context.principal.map { String($0.userID) } ?? "anonymous"])
            }
        }
        let old = try Self.tokens.issue(userID: 7, role: .customer, now: Date().addingTimeInterval(-60)).token
        try await Application(router: router).test(.router) { client in
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.authorization: "Bearer \(old)"]) { response in
                #expect(response.status == .ok)
                #expect(String(buffer: response.body).contains(#""user":"7""#))
                #expect(response.headers[Self.policy]?.hasPrefix(#""default";r=99;"#) == true, "the user's first")
            }
            // The user's sessions end (a password change, say) after the old token was issued.
            try await cutoffs.endSessions(of: 7, at: Date().addingTimeInterval(-30))
            for remaining in [99, 98] {
                try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.authorization: "Bearer \(old)"]) { response in
                    #expect(response.status == .unauthorized)
                    #expect(response.headers[Self.policy]?.hasPrefix(#""default";r=\#(remaining);"#) == true, "the sender's count")
                }
            }
            let new = try Self.tokens.issue(userID: 7, role: .customer, now: Date()).token
            try await client.execute(uri: "/api/v1/whoami", method: .get, headers: [.authorization: "Bearer \(new)"]) { response in
                #expect(response.status == .ok)
                #expect(response.headers[Self.policy]?.hasPrefix(#""default";r=98;"#) == true, "the revoked token spent none of the user's")
            }
        }
    }

    /// Keys read along with the session check reach the route with the values of that
    /// round trip (a service's shared count of writes, here), fresh at the next request
    /// after a change; an anonymous request, checked for nothing, has none.
    @Test(.enabled(if: RedisServer.available))
    func keysReadAlongTheSessionCheckReachTheRoute() async throws {
        let server = try RedisServer()
        let redis = RedisClient(
            .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
            logger: Logger(label: "guard-redis-test")
        )
        defer { redis.shutdown() }
        let router = Gateway.makeRouter(
            health: [],
            tokens: Self.tokens,
            sessionCutoffs: RedisSessionCutoffs(redis: redis, readAlong: ["test:writes", "test:absent"]),
            rateLimits: RedisRateLimitStore(redis: redis),
            configuration: GuardConfiguration()
        ) { api in
            api.get("seen") { _, _ in
                let along = ReadAlong.current
                return try JSONResponse.success([
                    "writes": along.flatMap { $0.values["test:writes"] ?? "unread" } ?? "none",
                    "absent": along.map { $0.values["test:absent"] == .some(nil) ? "read, no such key" : "?" } ?? "none",
                ])
            }
        }
        let token = try Self.tokens.issue(userID: 9, role: .customer, now: Date()).token
        try await Application(router: router).test(.router) { client in
            for count in 1...3 {
                _ = try await redis.increment("test:writes")
                try await client.execute(uri: "/api/v1/seen", method: .get, headers: [.authorization: "Bearer \(token)"]) { response in
                    #expect(response.status == .ok)
                    #expect(String(buffer: response.body).contains(#""writes":"\#(count)""#), "\(String(buffer: response.body))")
                    #expect(String(buffer: response.body).contains(#""absent":"read, no such key""#))
                }
            }
            try await client.execute(uri: "/api/v1/seen", method: .get) { response in
                #expect(String(buffer: response.body).contains(#""writes":"none""#))
            }
        }
    }
}
