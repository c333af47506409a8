public import Foundation
import Synchronization

/// How many requests a caller made in its current window, and when that window ends.
public struct RateLimitCount: Sendable, Hashable {
    public var used: Int
    /// Whole seconds until the window ends (at least 1).
    public var secondsLeft: Int

    public init(used: Int, secondsLeft: Int) {
        self.used = used
        self.secondsLeft = max(1, secondsLeft)
    }
}

/// Where request counts live: one behaviour, two places (in memory for one process,
/// Redis for many instances sharing one limit).
///
/// A caller's window opens at its first request and lasts the policy's window: the
/// limit is exactly `limit` requests in any window a caller starts, and callers'
/// windows do not all reset at the same instant.
public protocol RateLimitStore: Sendable {
    /// Counts one request of `subject` under `policy`.
    func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> RateLimitCount
}

/// Counters in this process's memory, for the embedded default.
public final class InMemoryRateLimitStore: RateLimitStore {
    private struct Counter {
        var count: Int
        var ends: Date
    }

    private struct State {
        var counters: [String: Counter] = [:]
        var nextSweep = Date.distantPast
    }

    private let state = Mutex(State())

    public init() {}

    public func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> RateLimitCount {
        let key = "\(policy.name):\(subject)"
        return state.withLock { state in
            if now >= state.nextSweep {
                // Drop finished windows now and then, so idle callers cost no memory.
                state.counters = state.counters.filter { $0.value.ends > now }
                state.nextSweep = now.addingTimeInterval(10)
            }
            var counter = state.counters[key] ?? Counter(count: 0, ends: now)
            if counter.ends <= now {
                counter = Counter(count: 0, ends: now.addingTimeInterval(TimeInterval(policy.windowSeconds)))
            }
            counter.count += 1
            state.counters[key] = counter
            return RateLimitCount(used: counter.count, secondsLeft: Int(counter.ends.timeIntervalSince(now).rounded(.up)))
        }
    }
}
