import Foundation
import Logging
import NIOCore
import Redis
import TestSupport
import Testing

/// The client against a real `redis-server` (started per test on a free port).
@Suite(.enabled(if: RedisServer.available)) struct RedisClientTests {
    private func withClient(
        connections: Int = 2,
        commandTimeout: Duration = .seconds(10),
        _ body: (RedisClient, RedisServer) async throws -> Void
    ) async throws {
        let server = try RedisServer()
        let client = RedisClient(
            .init(
                url: RedisURL(host: "127.0.0.1", port: server.port),
                connections: connections,
                commandTimeout: commandTimeout,
                reconnectBackoff: .milliseconds(50)
            ),
            logger: Logger(label: "redis-test")
        )
        defer { client.shutdown() }
        try await body(client, server)
    }

    /// Whether `attempt` succeeds within about two seconds of tries.
    private func eventually(_ attempt: () async throws -> Bool) async throws -> Bool {
        for _ in 0..<40 {
            if (try? await attempt()) == true { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }

    @Test func stringsIntegersHashesSortedSetsAndStreams() async throws {
        try await withClient { redis, _ in
            #expect(try await redis.get("missing") == nil)
            #expect(try await redis.set("greeting", to: "héllo"))
            #expect(try await redis.get("greeting") == "héllo")
            #expect(try await !redis.set("greeting", to: "other", onlyIfAbsent: true))
            #expect(try await redis.increment("counter", by: 5) == 5)
            #expect(try await redis.increment("counter") == 6)
            #expect(try await redis.expire("counter", in: .seconds(60)))
            #expect((50_000...60_000).contains(try await redis.send("PTTL", "counter").int ?? 0))
            #expect(try await redis.hashSet("user:1", [("name", "Ada"), ("role", "admin")]) == 2)
            #expect(try await redis.hashGetAll("user:1") == ["name": "Ada", "role": "admin"])
            #expect(try await redis.sortedSetAdd("ranks", member: "b", score: 2))
            #expect(try await redis.sortedSetAdd("ranks", member: "a", score: 1))
            #expect(try await redis.sortedSetRange("ranks", minScore: 0, maxScore: 10) == ["a", "b"])
            let id = try await redis.streamAdd("events", fields: [("type", "user.registered")], maxLength: 1000)
            #expect(id.contains("-"))
            #expect(try await redis.send("XLEN", "events").int == 1)
            #expect(try await redis.delete("greeting", "counter", "nothing") == 2)
        }
    }

    @Test func anErrorReplyIsThrownWithTheServersMessage() async throws {
        try await withClient { redis, _ in
            try await redis.set("text", to: "x")
            await #expect(throws: RedisError.self) { try await redis.send("INCR", "text") }
            do {
                try await redis.send("LPUSH", "text", "v")
                Issue.record("LPUSH on a string succeeded")
            } catch RedisError.server(let message) {
                #expect(message.hasPrefix("WRONGTYPE"))
            }
            #expect(try await redis.get("text") == "x", "the connection still works after an error reply")
        }
    }

    @Test func manyCallersPipelineOnFewConnectionsAndEachGetsItsOwnReply() async throws {
        try await withClient(connections: 2) { redis, _ in
            try await withThrowingTaskGroup(of: Void.self) { group in
                for index in 0..<200 {
                    group.addTask {
                        try await redis.set("key:\(index)", to: "value:\(index)")
                        let value = try await redis.get("key:\(index)")
                        #expect(value == "value:\(index)")
                    }
                }
                try await group.waitForAll()
            }
            let replies = try await redis.pipeline((0..<1000).map { _ in ["INCR", "piped"] })
            #expect(replies.map(\.int) == (1...1000).map { $0 })
        }
    }

    @Test func scriptsRunBySHAAndAreReloadedWhenTheServerForgetsThem() async throws {
        try await withClient { redis, _ in
            let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
            #expect(try await redis.evaluate(script, keys: ["n"], arguments: [RESPArgument(3)]).int == 3)
            try await redis.send("SCRIPT", "FLUSH")
            #expect(try await redis.evaluate(script, keys: ["n"], arguments: [RESPArgument(4)]).int == 7)
        }
    }

    @Test func aSlowReplyTimesOutAndTheClientRecovers() async throws {
        try await withClient(connections: 1, commandTimeout: .milliseconds(500)) { redis, _ in
            // BLPOP would answer null after 5 s; only the client's timeout makes it throw.
            await #expect(throws: RedisError.timeout) { try await redis.send("BLPOP", "never", "5") }
            // The timed-out connection was closed; the next commands reconnect. On a loaded
            // machine one of them may time out too: what counts is that they work again.
            let recovered = try await eventually { try await redis.set("after", to: "timeout") }
            #expect(recovered)
            #expect(try await eventually { try await redis.get("after") == "timeout" })
        }
    }

    /// Commands fail while Redis is down (a hang would hit the time limit) and work again
    /// once it is back. No wall-clock bound: a loaded machine must not fail this.
    @Test(.timeLimit(.minutes(1))) func aServerRestartFailsFastThenReconnects() async throws {
        try await withClient(connections: 2) { redis, server in
            // A loaded machine may take a moment to accept the first connection.
            #expect(try await eventually { try await redis.set("before", to: "restart") })
            server.stop()
            for _ in 0..<4 {
                await #expect(throws: RedisError.self) { try await redis.get("before") }
            }
            try server.start()
            let recovered = try await eventually { try await redis.set("after", to: "restart") }
            #expect(recovered)
            #expect(try await redis.get("after") == "restart")
            #expect(try await redis.get("before") == nil, "a restarted server without persistence starts empty")
        }
    }

    @Test func aServerThatIsNotThereFailsAtOnce() async throws {
        let server = try RedisServer()
        server.stop()
        let client = RedisClient(.init(url: RedisURL(host: "127.0.0.1", port: server.port)), logger: Logger(label: "redis-test"))
        defer { client.shutdown() }
        await #expect(throws: RedisError.self) { try await client.get("x") }
    }
}
