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

    /// Calls of the counting script Redis has run so far.
    private func scriptCalls(_ client: RedisClient) async throws -> Int {
        let info = try await client.send("INFO", "commandstats").string ?? ""
        guard let line = info.split(whereSeparator: \.isNewline).first(where: { $0.hasPrefix("cmdstat_evalsha:") }),
            let calls = line.split(separator: ",").first?.split(separator: "=").last
        else { return 0 }
        return Int(calls) ?? 0
    }

    private func redisClient(_ server: RedisServer) -> RedisClient {
        RedisClient(
            .init(url: RedisURL(host: "127.0.0.1", port: server.port), connectTimeout: .seconds(5), commandTimeout: .seconds(5)),
            logger: Logger(label: "test")
        )
    }

    /// A leasing store on a Redis server of its own, and the client under it.
    private func withLeasingStore(
        maxKept: Int = 100_000,
        _ body: (RedisRateLimitStore, RedisClient) async throws -> Void
    ) async throws {
        let server = try RedisServer()
        let client = redisClient(server)
        defer { client.shutdown() }
        try await body(RedisRateLimitStore(redis: client, prefix: "test", maxKept: maxKept), client)
    }

    @Test(.enabled(if: RedisServer.available))
    func aLargeLimitIsLeasedInFewRoundTripsAndCountedExactly() async throws {
        try await withLeasingStore { store, client in
            let policy = RateLimitPolicy(name: "default", limit: 100, window: .seconds(60))
            var used: [Int] = []
            for _ in 0..<100 { used.append(try await store.hit("ip:1.2.3.4", policy: policy, now: Date()).used) }
            // One instance counts exactly as if it asked Redis every time.
            #expect(used == Array(1...100))
            let calls = try await scriptCalls(client)
            #expect(calls < 40, "100 requests took \(calls) round trips")
            // A spent window is refused from memory: a flood costs Redis nothing.
            for _ in 0..<50 { #expect(try await store.hit("ip:1.2.3.4", policy: policy, now: Date()).used > 100) }
            #expect(try await scriptCalls(client) == calls)
            // Redis holds what was granted, never more than the limit plus the refusal that found it spent.
            let stored = try await client.send("GET", "test:default:ip:1.2.3.4").string.flatMap { Int($0) } ?? 0
            #expect((100...101).contains(stored))
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func instancesLeasingOneCallerNeverAdmitMoreThanItsLimit() async throws {
        let server = try RedisServer()
        let clients = [redisClient(server), redisClient(server), redisClient(server)]
        defer { for client in clients { client.shutdown() } }
        let stores = clients.map { RedisRateLimitStore(redis: $0, prefix: "test") }
        let policy = RateLimitPolicy(name: "default", limit: 500, window: .seconds(60))
        // Three instances, four callers' worth of concurrent requests each, 1,200 in all.
        let admitted = try await withThrowingTaskGroup(of: Int.self) { group in
            for store in stores {
                for _ in 0..<4 {
                    group.addTask {
                        var admitted = 0
                        for _ in 0..<100 where try await store.hit("user:7", policy: policy, now: Date()).used <= policy.limit {
                            admitted += 1
                        }
                        return admitted
                    }
                }
            }
            return try await group.reduce(0, +)
        }
        // Redis granted exactly the limit between the instances: what they admitted and what
        // they still hold (leases that came back after their callers had been refused) add up
        // to it, so nothing was admitted past it and no lease was lost.
        let unspent = stores.reduce(0) { $0 + $1.unspent("user:7", policy: policy) }
        let stored = try await clients[0].send("GET", "test:default:user:7").string ?? "-"
        #expect(admitted + unspent == 500, "admitted \(admitted), unspent \(unspent), stored in Redis \(stored)")
        #expect(admitted > 400)
        #expect(try await scriptCalls(clients[0]) < 400)
    }

    @Test(.enabled(if: RedisServer.available))
    func oneInstanceAdmitsExactlyTheLimitToABurst() async throws {
        try await withLeasingStore { store, client in
            let policy = RateLimitPolicy(name: "default", limit: 50, window: .seconds(60))
            // 120 at once: each lease one of them takes serves the others waiting on it, so none
            // is refused while a lease this instance took still has room.
            let used = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<120 { group.addTask { try await store.hit("ip:9.9.9.9", policy: policy, now: Date()).used } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
            #expect(used.filter { $0 <= 50 }.sorted() == Array(1...50))
            #expect(store.unspent("ip:9.9.9.9", policy: policy) == 0)
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func aLeaseEndsWithItsWindow() async throws {
        try await withLeasingStore { store, client in
            let policy = RateLimitPolicy(name: "default", limit: 1000, window: .seconds(2))
            #expect(try await store.hit("user:3", policy: policy, now: Date()).used == 1)
            #expect(try await store.hit("user:3", policy: policy, now: Date()).used == 2)
            try await Task.sleep(for: .milliseconds(2300))
            #expect(try await store.hit("user:3", policy: policy, now: Date()).used == 1)
        }
    }

    @Test(.enabled(if: RedisServer.available))
    func pastItsBoundNewCallersAreCountedInRedisOneByOne() async throws {
        try await withLeasingStore(maxKept: 2) { store, client in
            let policy = RateLimitPolicy(name: "default", limit: 1000, window: .seconds(60))
            func stored(_ subject: String) async throws -> Int {
                try await client.send("GET", .init("test:default:\(subject)")).string.flatMap { Int($0) } ?? 0
            }
            for subject in ["ip:a", "ip:b", "ip:c"] {
                for _ in 0..<5 { _ = try await store.hit(subject, policy: policy, now: Date()) }
            }
            // The first two hold a lease; the third, past the bound, asked for each request alone.
            #expect(try await stored("ip:a") > 5)
            #expect(try await stored("ip:b") > 5)
            #expect(try await stored("ip:c") == 5)
        }
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
