public import Foundation
public import Redis

/// Counters in Redis, so every gateway instance shares one limit.
///
/// One atomic script per request: increment the caller's key, start its expiry on the
/// first request of a window, and return the count with the time left; the key
/// vanishes when the window ends.
public struct RedisRateLimitStore: RateLimitStore {
    let redis: RedisClient
    let prefix: String

    static let script = RedisScript(
        """
        local count = redis.call('INCR', KEYS[1])
        if count == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        local left = redis.call('PTTL', KEYS[1])
        if left < 0 then
            redis.call('PEXPIRE', KEYS[1], ARGV[1])
            left = tonumber(ARGV[1])
        end
        return {count, left}
        """
    )

    public init(redis: RedisClient, prefix: String = "shop:ratelimit") {
        self.redis = redis
        self.prefix = prefix
    }

    public func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> RateLimitCount {
        let key = "\(prefix):\(policy.name):\(subject)"
        let reply = try await redis.evaluate(Self.script, keys: [key], arguments: [.init(Int(policy.windowSeconds) * 1000)])
        guard let values = reply.array, values.count == 2, let count = values[0].int, let milliseconds = values[1].int else {
            throw RedisRateLimitStoreError.unexpectedReply
        }
        return RateLimitCount(used: count, secondsLeft: (milliseconds + 999) / 1000)
    }
}

enum RedisRateLimitStoreError: Error {
    case unexpectedReply
}
