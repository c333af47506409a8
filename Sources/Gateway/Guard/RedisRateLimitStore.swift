public import Foundation
public import Redis

/// Fixed-window counters in Redis, so every gateway instance shares one limit.
///
/// One atomic script per request: increment the window's key and give it an expiry
/// the first time, so a window's key vanishes on its own.
public struct RedisRateLimitStore: RateLimitStore {
    let redis: RedisClient
    let prefix: String

    static let script = RedisScript(
        """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        return count
        """
    )

    public init(redis: RedisClient, prefix: String = "shop:ratelimit") {
        self.redis = redis
        self.prefix = prefix
    }

    public func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> Int {
        let window = policy.window(at: now)
        let key = "\(prefix):\(policy.name):\(subject):\(window.index)"
        let milliseconds = Int(policy.windowSeconds) * 1000 + 1000
        let reply = try await redis.evaluate(Self.script, keys: [key], arguments: [.init(milliseconds)])
        guard let count = reply.int else { throw RedisRateLimitStoreError.unexpectedReply }
        return count
    }
}

enum RedisRateLimitStoreError: Error {
    case unexpectedReply
}
