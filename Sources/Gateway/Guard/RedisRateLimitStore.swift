public import Foundation
public import Redis
import Synchronization

/// Counters in Redis, so every instance shares one limit.
///
/// A caller's count lives in one Redis key that vanishes when its window ends. An instance
/// does not ask Redis for every request: it takes a lease of several requests at once
/// (`INCRBY`), admits that many from memory, and asks again when they are spent. A lease
/// is at most an eighth of what is left of the limit (so a caller with fewer than 16
/// requests left, and any limit under 16, is counted one request at a time) and at most
/// `maxLease`. Leases never admit more than the limit across all instances: Redis grants
/// only what is left. A lease one instance has not spent when the window ends is simply
/// not used, so several instances may refuse a caller a little before the limit, never
/// after it; one instance asks once at a time for a caller, and its other requests wait
/// for that lease, so alone it admits exactly the limit. A window known to be spent is refused from memory until it ends, so a flood
/// costs Redis nothing.
public final class RedisRateLimitStore: RateLimitStore {
    let redis: RedisClient
    let prefix: String
    let maxLease: Int
    let maxKept: Int
    private let leases = Mutex(Leases())

    /// Requests this instance may still admit for one caller in its current window.
    struct Lease {
        /// Taken from Redis and not yet used here.
        var available: Int
        /// Requests granted to any instance as of this instance's last lease, at most the limit.
        var granted: Int
        /// When the window ends, by Redis's time to live at the last lease.
        var ends: Date
    }

    struct Leases {
        var byKey: [String: Lease] = [:]
        /// Callers with a round trip to Redis under way, and the requests waiting on it: one
        /// instance asks once at a time per caller, so a burst spends every lease it takes.
        var asking: [String: [CheckedContinuation<Void, Never>]] = [:]
        var nextSweep = Date.distantPast
    }

    /// Adds `ARGV[2]` requests to the caller's count, starts its expiry on the window's first
    /// request, and returns the count with the milliseconds left.
    static let script = RedisScript(
        """
        local want = tonumber(ARGV[2])
        local count = redis.call('INCRBY', KEYS[1], want)
        if count == want then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
        local left = redis.call('PTTL', KEYS[1])
        if left < 0 then
            redis.call('PEXPIRE', KEYS[1], ARGV[1])
            left = tonumber(ARGV[1])
        end
        return {count, left}
        """
    )

    /// - Parameters:
    ///   - maxLease: the most requests one round trip may take; 1 asks Redis for every request.
    ///   - maxKept: the most callers whose leases are kept; past it a new caller is counted in
    ///     Redis one request at a time, so whatever clients send, memory stays bounded.
    public init(redis: RedisClient, prefix: String = "shop:ratelimit", maxLease: Int = 64, maxKept: Int = 100_000) {
        self.redis = redis
        self.prefix = prefix
        self.maxLease = max(1, maxLease)
        self.maxKept = max(0, maxKept)
    }

    public func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> RateLimitCount {
        let key = "\(prefix):\(policy.name):\(subject)"
        while true {
            switch takeLeased(key, policy: policy, now: now) {
            case .answered(let count):
                return count
            case .wait:
                await waitForLease(key)
            case .ask(let want, let single):
                do {
                    let count = try await lease(key, want: want, policy: policy, now: now)
                    if single { finishAsking(key) }
                    return count
                } catch {
                    if single { finishAsking(key) }
                    throw error
                }
            }
        }
    }

    /// Asks Redis for `want` requests, keeps what it grants past this one, and answers this one.
    private func lease(_ key: String, want: Int, policy: RateLimitPolicy, now: Date) async throws -> RateLimitCount {
        let reply = try await redis.evaluate(
            Self.script,
            keys: [key],
            arguments: [.init(Int(policy.windowSeconds) * 1000), .init(want)]
        )
        guard let values = reply.array, values.count == 2, let count = values[0].int, let milliseconds = values[1].int else {
            throw RedisRateLimitStoreError.unexpectedReply
        }
        let before = count - want
        let granted = max(0, min(want, policy.limit - before))
        let ends = now.addingTimeInterval(Double(milliseconds) / 1000)
        keep(key, Lease(available: max(0, granted - 1), granted: min(policy.limit, before + granted), ends: ends), now: now)
        return RateLimitCount(used: before + 1, secondsLeft: (milliseconds + 999) / 1000)
    }

    /// Waits until this instance's round trip for `key` has come back.
    private func waitForLease(_ key: String) async {
        await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
            let queued = leases.withLock { state in
                guard state.asking[key] != nil else { return false }
                state.asking[key, default: []].append(waiter)
                return true
            }
            if !queued { waiter.resume() }
        }
    }

    private func finishAsking(_ key: String) {
        let waiters = leases.withLock { $0.asking.removeValue(forKey: key) ?? [] }
        for waiter in waiters { waiter.resume() }
    }

    /// Requests leased for `subject` and not yet used here (for tests).
    func unspent(_ subject: String, policy: RateLimitPolicy) -> Int {
        leases.withLock { $0.byKey["\(prefix):\(policy.name):\(subject)"]?.available ?? 0 }
    }

    private enum Local {
        case answered(RateLimitCount)
        /// How many requests to lease from Redis, and whether this request is the one round
        /// trip for its caller that the others wait on.
        case ask(Int, single: Bool)
        /// Another request of this caller is asking Redis: its lease may answer this one too.
        case wait
    }

    private func takeLeased(_ key: String, policy: RateLimitPolicy, now: Date) -> Local {
        leases.withLock { state in
            if now >= state.nextSweep {
                // Finished windows go now and then, so idle callers cost no memory.
                state.byKey = state.byKey.filter { $0.value.ends > now }
                state.nextSweep = now.addingTimeInterval(10)
            }
            var left = policy.limit
            if var lease = state.byKey[key], lease.ends > now {
                let seconds = max(1, Int(lease.ends.timeIntervalSince(now).rounded(.up)))
                if lease.available > 0 {
                    lease.available -= 1
                    state.byKey[key] = lease
                    return .answered(RateLimitCount(used: lease.granted - lease.available, secondsLeft: seconds))
                }
                if lease.granted >= policy.limit {
                    return .answered(RateLimitCount(used: policy.limit + 1, secondsLeft: seconds))
                }
                left = policy.limit - lease.granted
            } else if state.byKey.count >= maxKept {
                return .ask(1, single: false)
            }
            if state.asking[key] != nil { return .wait }
            state.asking[key] = []
            return .ask(min(maxLease, max(1, left / 8)), single: true)
        }
    }

    private func keep(_ key: String, _ lease: Lease, now: Date) {
        leases.withLock { state in
            // Two leases of one window end within a round trip of each other; a window ends at
            // least a second after the one before it ended.
            guard var kept = state.byKey[key], kept.ends > now, abs(kept.ends.timeIntervalSince(lease.ends)) < 0.5 else {
                if state.byKey[key] != nil || state.byKey.count < maxKept { state.byKey[key] = lease }
                return
            }
            // Leases taken side by side in one window add up.
            kept.available += lease.available
            kept.granted = max(kept.granted, lease.granted)
            state.byKey[key] = kept
        }
    }
}

enum RedisRateLimitStoreError: Error {
    case unexpectedReply
}
