import Foundation

/// When a failed webhook is tried again, and when an endpoint that keeps failing is disabled.
///
/// The waits follow the schedule Standard Webhooks suggests: 5 seconds, 5 minutes,
/// 30 minutes, 2 hours, 5 hours, 10 hours and 10 hours after each failed attempt, so the last
/// of 8 attempts comes about 27½ hours after the first. Each wait is moved by up to ±20 %
/// at random, so endpoints that failed together (one outage) are not retried in lockstep;
/// unlike "full" jitter (anywhere between zero and the wait), this keeps the schedule's
/// shape, so a receiver that is down for an hour is not hammered within seconds.
///
/// An endpoint whose every delivery has failed for ``disableAfter`` (5 days, as Standard
/// Webhooks suggests) is disabled.
struct WebhookRetrySchedule: Sendable, Equatable {
    static let standardWaits: [Duration] = [
        .seconds(5), .seconds(5 * 60), .seconds(30 * 60), .seconds(2 * 3600), .seconds(5 * 3600), .seconds(10 * 3600),
        .seconds(10 * 3600),
    ]
    static let defaultDisableAfter: Duration = .seconds(5 * 24 * 3600)

    /// The wait after the first failed attempt, the second..., the last one repeating
    /// when ``maxAttempts`` asks for more.
    let waits: [Duration]
    /// How many attempts a message gets, the first included.
    let maxAttempts: Int
    /// How far a wait may move either way, as a fraction of it.
    let jitter: Double
    /// How long an endpoint may fail without a single success before it is disabled.
    let disableAfter: Duration

    /// - Precondition: `waits` is not empty and every wait is positive, `maxAttempts` is at
    ///   least 1, and `jitter` is between 0 and 0.5.
    init(
        waits: [Duration] = standardWaits,
        maxAttempts: Int? = nil,
        jitter: Double = 0.2,
        disableAfter: Duration = defaultDisableAfter
    ) {
        precondition(!waits.isEmpty && waits.allSatisfy { $0 > .zero }, "every wait must be positive")
        precondition((0...0.5).contains(jitter), "jitter must be between 0 and 0.5")
        self.waits = waits
        self.maxAttempts = maxAttempts ?? waits.count + 1
        precondition(self.maxAttempts >= 1, "a message needs at least one attempt")
        self.jitter = jitter
        self.disableAfter = disableAfter
    }

    /// The wait after attempt number `attempt` (1 is the first) failed, before jitter, or
    /// nil when it was the last.
    func baseWait(after attempt: Int) -> Duration? {
        guard attempt >= 1, attempt < maxAttempts else { return nil }
        return waits[min(attempt - 1, waits.count - 1)]
    }

    /// When to make the next attempt after attempt number `attempt` (1 is the first) failed
    /// at `failure`, or nil when that was the last attempt.
    func nextAttempt(after attempt: Int, from failure: Date, random: inout some RandomNumberGenerator) -> Date? {
        guard let wait = baseWait(after: attempt) else { return nil }
        let factor = jitter == 0 ? 1 : Double.random(in: (1 - jitter)...(1 + jitter), using: &random)
        return failure.addingTimeInterval(Self.seconds(wait) * factor)
    }

    /// Whether an endpoint that has failed without a success since `failingSince` (the first
    /// failure of its current streak) is to be disabled at `now`.
    func shouldDisableEndpoint(failingSince: Date, now: Date) -> Bool {
        now.timeIntervalSince(failingSince) >= Self.seconds(disableAfter)
    }

    static func seconds(_ duration: Duration) -> TimeInterval {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
