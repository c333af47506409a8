import Foundation
import TestSupport
import Testing

@testable import NotificationService

@Suite struct WebhookRetryScheduleTests {
    /// The times of every attempt of one message, the first at `start`.
    static func attemptTimes(_ schedule: WebhookRetrySchedule, from start: Date, seed: UInt64) -> [Date] {
        var random = SplitMix64(seed: seed)
        var times = [start]
        while let next = schedule.nextAttempt(after: times.count, from: times[times.count - 1], random: &random) {
            times.append(next)
        }
        return times
    }

    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func withoutJitterTheWaitsAreTheStandardWebhooksScheduleAndNeverShrink() {
        let schedule = WebhookRetrySchedule(jitter: 0)

        let times = Self.attemptTimes(schedule, from: Self.start, seed: 1)

        let waits = zip(times.dropFirst(), times).map { $0.timeIntervalSince($1) }
        #expect(waits == [5, 300, 1800, 7200, 18000, 36000, 36000])
        #expect(zip(waits.dropFirst(), waits).allSatisfy { $0 >= $1 })
    }

    @Test func aMessageGetsMaxAttemptsAndNoneAfterTheLast() {
        let schedule = WebhookRetrySchedule()
        var random = SplitMix64(seed: 7)

        #expect(schedule.maxAttempts == 8)
        #expect(Self.attemptTimes(schedule, from: Self.start, seed: 7).count == 8)
        #expect(schedule.nextAttempt(after: 8, from: Self.start, random: &random) == nil)
        #expect(schedule.nextAttempt(after: 7, from: Self.start, random: &random) != nil)
    }

    @Test(arguments: [UInt64(1), 2, 3, 42, 1_000_003])
    func theAttemptsSpanAboutADayAndTheirTimesIncrease(seed: UInt64) throws {
        let times = Self.attemptTimes(WebhookRetrySchedule(), from: Self.start, seed: seed)

        #expect(zip(times.dropFirst(), times).allSatisfy { $0 > $1 })
        let span = try #require(times.last).timeIntervalSince(Self.start)
        #expect(span >= 20 * 3600)
        #expect(span <= 34 * 3600)
    }

    @Test func everyJitteredWaitStaysWithinItsBounds() {
        let schedule = WebhookRetrySchedule(jitter: 0.2)
        var random = SplitMix64(seed: 99)
        var spread: [Int: (low: Double, high: Double)] = [:]

        for _ in 0..<2000 {
            for attempt in 1..<schedule.maxAttempts {
                let base = WebhookRetrySchedule.seconds(schedule.baseWait(after: attempt)!)
                let next = schedule.nextAttempt(after: attempt, from: Self.start, random: &random)!
                let ratio = next.timeIntervalSince(Self.start) / base
                #expect(ratio >= 0.8 && ratio <= 1.2)
                let seen = spread[attempt] ?? (ratio, ratio)
                spread[attempt] = (min(seen.low, ratio), max(seen.high, ratio))
            }
        }

        // Jitter happens: the waits spread over most of their range.
        #expect(spread.values.allSatisfy { $0.low < 0.85 && $0.high > 1.15 })
    }

    @Test func moreAttemptsThanTheTableRepeatItsLastWait() {
        let schedule = WebhookRetrySchedule(waits: [.seconds(1), .seconds(60)], maxAttempts: 4, jitter: 0)

        #expect((1...4).map { schedule.baseWait(after: $0) } == [.seconds(1), .seconds(60), .seconds(60), nil])
    }

    @Test func anEndpointIsDisabledAfterFiveDaysOfFailuresAndNotBefore() {
        let schedule = WebhookRetrySchedule()
        let failingSince = Self.start

        #expect(!schedule.shouldDisableEndpoint(failingSince: failingSince, now: failingSince.addingTimeInterval(5 * 86400 - 1)))
        #expect(schedule.shouldDisableEndpoint(failingSince: failingSince, now: failingSince.addingTimeInterval(5 * 86400)))
        #expect(!schedule.shouldDisableEndpoint(failingSince: failingSince, now: failingSince))
    }
}
