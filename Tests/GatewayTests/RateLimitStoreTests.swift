import Foundation
import Logging
import Redis
import TestSupport
import Testing

@testable import Gateway

/// Both rate-limit stores count the same way: one behaviour, two places.
@Suite(.serialized) struct RateLimitStoreTests {
    enum Kind: String, CaseIterable, CustomTestStringConvertible {
        case memory, redis
        var testDescription: String { rawValue }
    }

    static var kinds: [Kind] {
        RedisServer.available ? Kind.allCases : Backends.skipping("redis-server", in: "the Redis cases of \(#fileID)", [.memory])
    }
    static let policy = RateLimitPolicy(name: "default", limit: 3, window: .seconds(60))

    private func withStore(_ kind: Kind, _ body: (any RateLimitStore) async throws -> Void) async throws {
        switch kind {
        case .memory:
            try await body(InMemoryRateLimitStore())
        case .redis:
            let server = try RedisServer()
            let client = RedisClient(
                .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
                logger: Logger(label: "test")
            )
            defer { client.shutdown() }
            try await body(RedisRateLimitStore(redis: client, prefix: "test:\(UUID().uuidString)"))
        }
    }

    @Test(arguments: kinds)
    func countsPerSubjectAndPolicyWithinAWindowThatOpensAtTheFirstRequest(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            var counts: [RateLimitCount] = []
            for _ in 0..<4 { counts.append(try await store.hit("ip:1.2.3.4", policy: Self.policy, now: Date())) }
            #expect(counts.map(\.used) == [1, 2, 3, 4])
            // The window opened at the first hit; a loaded machine may take a few seconds for four.
            #expect(counts.allSatisfy { (55...60).contains($0.secondsLeft) })
            #expect(try await store.hit("ip:5.6.7.8", policy: Self.policy, now: Date()).used == 1)
            let other = RateLimitPolicy(name: "credentials", limit: 3, window: .seconds(60))
            #expect(try await store.hit("ip:1.2.3.4", policy: other, now: Date()).used == 1)
        }
    }

    @Test(arguments: kinds)
    func aNewWindowStartsWhenTheOldOneEnds(_ kind: Kind) async throws {
        try await withStore(kind) { store in
            // Three seconds: the second hit must land in the first window, which one second
            // did not always leave room for on a loaded machine (CI, once).
            let short = RateLimitPolicy(name: "default", limit: 3, window: .seconds(3))
            #expect(try await store.hit("user:9", policy: short, now: Date()).used == 1)
            #expect(try await store.hit("user:9", policy: short, now: Date()).used == 2)
            // Real time: Redis expires the key on its own clock.
            try await Task.sleep(for: .milliseconds(3200))
            let next = try await store.hit("user:9", policy: short, now: Date())
            #expect(next.used == 1)
            #expect((1...3).contains(next.secondsLeft), "a whole new window: \(next.secondsLeft) s left")
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func twoClientsOfOneRedisShareOneCount() async throws {
        let server = try RedisServer()
        let logger = Logger(label: "test")
        // Generous timeouts: a loaded test machine can take a while to connect.
        let configuration = RedisClient.Configuration(
            url: RedisURL(host: "127.0.0.1", port: server.port),
            connectTimeout: .seconds(5),
            commandTimeout: .seconds(5)
        )
        let first = RedisClient(configuration, logger: logger)
        let second = RedisClient(configuration, logger: logger)
        defer {
            first.shutdown()
            second.shutdown()
        }
        let a = RedisRateLimitStore(redis: first)
        let b = RedisRateLimitStore(redis: second)
        #expect(try await a.hit("user:1", policy: Self.policy, now: Date()).used == 1)
        #expect(try await b.hit("user:1", policy: Self.policy, now: Date()).used == 2)
        #expect(try await a.hit("user:1", policy: Self.policy, now: Date()).used == 3)
    }

    @Test(.enabled(if: RedisServer.available))
    func aStoppedRedisFailsTheCallInsteadOfHangingIt() async throws {
        let server = try RedisServer()
        let client = RedisClient(
            // Long enough for a loaded test machine to answer the first call; short enough that a
            // hang would show.
            .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(3), commandTimeout: .seconds(3)),
            logger: Logger(label: "test")
        )
        defer { client.shutdown() }
        let store = RedisRateLimitStore(redis: client)
        #expect(try await store.hit("user:1", policy: Self.policy, now: Date()).used == 1)
        server.stop()
        await #expect(throws: (any Error).self) { try await store.hit("user:1", policy: Self.policy, now: Date()) }
    }

    @Test func policiesParseAndRenderTheDraftHeaders() throws {
        let policy = try RateLimitPolicy(name: "default", parsing: "100/60")
        #expect(policy == RateLimitPolicy(name: "default", limit: 100, window: .seconds(60)))
        for bad in ["100", "0/60", "100/0", "a/b", "100/60/1"] {
            #expect(throws: (any Error).self, "\(bad)") { try RateLimitPolicy(name: "x", parsing: bad) }
        }
        let decision = RateLimitDecision(policy: policy, used: 58, secondsLeft: 17)
        #expect(decision.headers[.rateLimitPolicy] == #""default";q=100;w=60"#)
        #expect(decision.headers[.rateLimit] == #""default";r=42;t=17"#)
        #expect(decision.headers[.retryAfter] == nil)
        let refused = RateLimitDecision(policy: policy, used: 101, secondsLeft: 17)
        #expect(!refused.allowed && refused.headers[.retryAfter] == "17" && refused.remaining == 0)
    }

    @Test func theClientAddressComesFromForwardedForOnlyThroughATrustedProxy() {
        let proxies: TrustedProxies = ["10.0.0.1", "10.0.0.2"]
        #expect(ClientAddress.resolve(peer: "203.0.113.9", forwardedFor: ["1.1.1.1"], trustedProxies: proxies) == "203.0.113.9")
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: ["1.1.1.1, 198.51.100.7"], trustedProxies: proxies) == "198.51.100.7")
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: ["198.51.100.7, 10.0.0.2"], trustedProxies: proxies) == "198.51.100.7")
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: [], trustedProxies: proxies) == "10.0.0.1")
    }
}
