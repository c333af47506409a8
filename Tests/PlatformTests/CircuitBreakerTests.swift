import Platform
import Synchronization
import Testing

/// The circuit breaker on a clock the tests move: when it opens, what it lets through,
/// and what its metrics show.
@Suite struct CircuitBreakerTests {
    /// A clock that moves only when told to.
    final class TestClock: Sendable {
        private let current = Mutex(ContinuousClock.now)

        @Sendable func now() -> ContinuousClock.Instant { current.withLock { $0 } }

        func advance(by duration: Duration) { current.withLock { $0 += duration } }
    }

    /// A value the tasks of a test share.
    final class Shared<Value: Sendable>: Sendable {
        private let value: Mutex<Value>

        init(_ value: Value) { self.value = Mutex(value) }

        func withLock<Result: Sendable>(_ body: (inout Value) -> Result) -> Result { value.withLock { body(&$0) } }
    }

    struct UpstreamDown: Error {}
    struct Refused: Error {}

    /// A breaker on a ``TestClock``, with the operations that reach the upstream counted.
    final class Fixture: Sendable {
        let clock = TestClock()
        let breaker: CircuitBreaker
        private let calls = Atomic<Int>(0)
        var callCount: Int { calls.load(ordering: .sequentiallyConsistent) }

        init(failureThreshold: Int = 3, openDuration: Duration = .seconds(10), halfOpenProbes: Int = 1) {
            breaker = CircuitBreaker(
                name: "products",
                configuration: .init(failureThreshold: failureThreshold, openDuration: openDuration, halfOpenProbes: halfOpenProbes),
                now: clock.now
            )
        }

        func succeed() async throws {
            try await breaker.run {
                _ = calls.add(1, ordering: .sequentiallyConsistent)
            }
        }

        func fail() async {
            await #expect(throws: UpstreamDown.self) {
                try await self.breaker.run {
                    self.calls.add(1, ordering: .sequentiallyConsistent)
                    throw UpstreamDown()
                }
            }
        }

        func expectRefused(sourceLocation: SourceLocation = #_sourceLocation) async {
            let before = callCount
            await #expect(throws: CircuitOpenError(name: "products"), sourceLocation: sourceLocation) {
                try await self.breaker.run { _ = self.calls.add(1, ordering: .sequentiallyConsistent) }
            }
            #expect(callCount == before, "the operation was not called", sourceLocation: sourceLocation)
        }

        /// Runs one call that holds until `gate` opens, and returns once it has started.
        func hold(until gate: StartGate) async throws -> Task<Void, any Error> {
            let before = callCount
            let call = Task {
                try await breaker.run {
                    _ = calls.add(1, ordering: .sequentiallyConsistent)
                    await gate.wait()
                    try Task.checkCancellation()
                }
            }
            try await eventually { self.callCount > before }
            return call
        }
    }

    @Test func opensAfterTheThresholdOfConsecutiveFailures() async throws {
        let fixture = Fixture(failureThreshold: 3)
        await fixture.fail()
        await fixture.fail()
        #expect(fixture.breaker.state == .closed)

        await fixture.fail()

        #expect(fixture.breaker.state == .open)
        #expect(fixture.callCount == 3)
    }

    @Test func whileOpenCallsFailAtOnceWithoutRunningTheOperation() async throws {
        let fixture = Fixture(failureThreshold: 1, openDuration: .seconds(10))
        await fixture.fail()

        await fixture.expectRefused()
        fixture.clock.advance(by: .seconds(9))
        await fixture.expectRefused()

        #expect(fixture.callCount == 1)
        #expect(fixture.breaker.state == .open)
    }

    @Test func afterTheOpenDurationHalfOpenLetsExactlyTheProbesThrough() async throws {
        let fixture = Fixture(failureThreshold: 1, openDuration: .seconds(10), halfOpenProbes: 2)
        await fixture.fail()
        fixture.clock.advance(by: .seconds(10))
        let gate = StartGate()

        let probes = [try await fixture.hold(until: gate), try await fixture.hold(until: gate)]

        #expect(fixture.breaker.state == .halfOpen)
        await fixture.expectRefused()
        gate.open()
        for probe in probes { try await probe.value }
        #expect(fixture.callCount == 3)
    }

    @Test func aSuccessWhileHalfOpenCloses() async throws {
        let fixture = Fixture(failureThreshold: 1)
        await fixture.fail()
        fixture.clock.advance(by: .seconds(10))

        try await fixture.succeed()

        #expect(fixture.breaker.state == .closed)
        try await fixture.succeed()
        #expect(fixture.callCount == 3)
    }

    @Test func aFailureWhileHalfOpenOpensAgainForAFullDuration() async throws {
        let fixture = Fixture(failureThreshold: 1, openDuration: .seconds(10))
        await fixture.fail()
        fixture.clock.advance(by: .seconds(10))

        await fixture.fail()

        #expect(fixture.breaker.state == .open)
        fixture.clock.advance(by: .seconds(9))
        await fixture.expectRefused()
        fixture.clock.advance(by: .seconds(1))
        try await fixture.succeed()
        #expect(fixture.breaker.state == .closed)
    }

    @Test func errorsThatAreNotFailuresCountAsSuccessesAndResetTheCount() async throws {
        let fixture = Fixture(failureThreshold: 3)
        await fixture.fail()
        await fixture.fail()

        await #expect(throws: Refused.self, "the error is thrown unchanged") {
            try await fixture.breaker.run({ throw Refused() }, isFailure: { !($0 is Refused) })
        }

        await fixture.fail()
        await fixture.fail()
        #expect(fixture.breaker.state == .closed, "two failures in a row since the refusal")
        await fixture.fail()
        #expect(fixture.breaker.state == .open)
    }

    @Test func aRefusalWhileHalfOpenCloses() async throws {
        let fixture = Fixture(failureThreshold: 1)
        await fixture.fail()
        fixture.clock.advance(by: .seconds(10))

        await #expect(throws: Refused.self) {
            try await fixture.breaker.run({ throw Refused() }, isFailure: { !($0 is Refused) })
        }

        #expect(fixture.breaker.state == .closed)
    }

    @Test func concurrentCallersWhileHalfOpenOnlyLetTheProbesThrough() async throws {
        let fixture = Fixture(failureThreshold: 1, halfOpenProbes: 2)
        await fixture.fail()
        fixture.clock.advance(by: .seconds(10))
        let gate = StartGate()
        let refused = Shared(0)

        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    do {
                        try await fixture.breaker.run { await gate.wait() }
                        return true
                    } catch is CircuitOpenError {
                        refused.withLock { $0 += 1 }
                        return false
                    }
                }
            }
            // The probes hold until every other caller has been refused.
            try await eventually { refused.withLock { $0 } == 48 }
            gate.open()
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }

        #expect(outcomes.filter { $0 }.count == 2)
        #expect(outcomes.filter { !$0 }.count == 48)
        #expect(fixture.breaker.state == .closed)
    }

    @Test func aCancelledCallerIsNotAFailure() async throws {
        let fixture = Fixture(failureThreshold: 1)
        let call = Task {
            try await fixture.breaker.run {
                try await Task.sleep(for: .seconds(3600))
            }
        }

        call.cancel()

        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(fixture.breaker.state == .closed)
    }

    @Test func aCancelledProbeGivesItsPlaceToTheNextCaller() async throws {
        let fixture = Fixture(failureThreshold: 1, halfOpenProbes: 1)
        await fixture.fail()
        fixture.clock.advance(by: .seconds(10))
        let probe = try await fixture.hold(until: StartGate())
        await fixture.expectRefused()

        probe.cancel()
        _ = await probe.result

        #expect(fixture.breaker.state == .halfOpen)
        try await fixture.succeed()
        #expect(fixture.breaker.state == .closed)
    }

    @Test func aSlowCallLetThroughBeforeTheBreakerOpenedDoesNotCloseIt() async throws {
        let fixture = Fixture(failureThreshold: 2)
        let gate = StartGate()
        let slow = try await fixture.hold(until: gate)
        await fixture.fail()
        await fixture.fail()

        gate.open()
        try await slow.value

        #expect(fixture.breaker.state == .open)
    }

    @Test func changesOfStateAreReportedInOrder() async throws {
        let clock = TestClock()
        let changes = Shared<[CircuitBreaker.State]>([])
        let breaker = CircuitBreaker(
            name: "users",
            configuration: .init(failureThreshold: 1),
            now: clock.now,
            onStateChange: { name, state in
                #expect(name == "users")
                changes.withLock { $0.append(state) }
            }
        )
        await #expect(throws: UpstreamDown.self) { try await breaker.run { throw UpstreamDown() } }
        clock.advance(by: .seconds(10))

        try await breaker.run {}

        #expect(changes.withLock { $0 } == [.open, .halfOpen, .closed])
    }

    @Test func theMetricsShowTheStateAndTheRefusals() async throws {
        let metrics = ShopMetrics()
        let clock = TestClock()
        let breaker = metrics.circuitBreaker(
            name: "products",
            configuration: .init(failureThreshold: 1, openDuration: .seconds(10)),
            now: clock.now
        )
        let exposition = { String(decoding: metrics.exposition(), as: UTF8.self) }
        #expect(exposition().contains(#"shop_circuit_breaker_state{breaker="products"} 0.0"#), "closed, before any call")

        await #expect(throws: UpstreamDown.self) { try await breaker.run { throw UpstreamDown() } }
        await #expect(throws: CircuitOpenError.self) { try await breaker.run {} }

        #expect(exposition().contains(#"shop_circuit_breaker_state{breaker="products"} 2.0"#))
        #expect(exposition().contains(#"shop_circuit_breaker_rejections_total{breaker="products"} 1"#))
        clock.advance(by: .seconds(10))
        try await breaker.run {
            #expect(exposition().contains(#"shop_circuit_breaker_state{breaker="products"} 1.0"#), "half-open while the probe runs")
        }
        #expect(exposition().contains(#"shop_circuit_breaker_state{breaker="products"} 0.0"#))
    }

    @Test func aConfigurationMustBePositive() async {
        await #expect(processExitsWith: .failure) { _ = CircuitBreaker.Configuration(failureThreshold: 0) }
        await #expect(processExitsWith: .failure) { _ = CircuitBreaker.Configuration(openDuration: .zero) }
        await #expect(processExitsWith: .failure) { _ = CircuitBreaker.Configuration(halfOpenProbes: 0) }
    }
}

/// Waits (a bounded number of rounds, generous for a loaded machine) until `condition` holds.
private func eventually(_ condition: () -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
    for _ in 0..<2000 {
        if condition() { return }
        try await Task.sleep(for: .milliseconds(5))
    }
    Issue.record("the condition never held", sourceLocation: sourceLocation)
}
