public import Foundation
import Synchronization

/// Where request counts live: one behaviour, two places (in memory for one process,
/// Redis for many instances sharing one limit).
public protocol RateLimitStore: Sendable {
    /// Counts one request of `subject` in the current window of `policy` and returns the
    /// count so far in that window.
    func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> Int
}

/// Fixed-window counters in this process's memory, for the embedded default.
public final class InMemoryRateLimitStore: RateLimitStore {
    private struct Counter {
        var window: Int64
        var count: Int
        var expires: Date
    }

    private struct State {
        var counters: [String: Counter] = [:]
        var nextSweep = Date.distantPast
    }

    private let state = Mutex(State())

    public init() {}

    public func hit(_ subject: String, policy: RateLimitPolicy, now: Date) async throws -> Int {
        let window = policy.window(at: now)
        let key = "\(policy.name):\(subject)"
        return state.withLock { state in
            if now >= state.nextSweep {
                // Drop finished windows now and then, so idle callers cost no memory.
                state.counters = state.counters.filter { $0.value.expires > now }
                state.nextSweep = now.addingTimeInterval(10)
            }
            var counter = state.counters[key] ?? Counter(window: window.index, count: 0, expires: now)
            if counter.window != window.index { counter = Counter(window: window.index, count: 0, expires: now) }
            counter.count += 1
            counter.expires = now.addingTimeInterval(TimeInterval(window.secondsLeft))
            state.counters[key] = counter
            return counter.count
        }
    }
}
