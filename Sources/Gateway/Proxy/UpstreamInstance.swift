public import ServiceContract
import Synchronization

/// One instance of a service behind the gateway, and whether requests may go to it now.
///
/// An instance takes requests while it passed its last health check, is not ejected and
/// its breaker is not open. A connection that fails or times out ejects it (for
/// ``EjectionPolicy/first``, doubling while it keeps failing, up to ``EjectionPolicy/longest``),
/// and so do ``gatewayErrorsToEject`` answers in a row that say the instance itself cannot
/// serve (502, 503, 504: its database is gone, it is overloaded); a health check it answers
/// lets it back in; any other answer ends its run of failures.
public final class UpstreamInstance: Sendable {
    /// The service it belongs to (`users`), from configuration.
    public let upstream: String
    public let address: UpstreamAddress
    /// Counts the failures of requests and health checks; open, it refuses calls at once.
    public let breaker: CircuitBreaker
    let ejection: EjectionPolicy
    let now: @Sendable () -> ContinuousClock.Instant
    /// Told whether the instance takes requests, each time that may have changed.
    let onAvailability: @Sendable (Bool) -> Void
    private let state = Mutex(State())

    struct State {
        var passedHealthCheck = true
        var ejectedUntil: ContinuousClock.Instant?
        var failures = 0
        /// 502, 503 and 504 answers in a row.
        var gatewayErrors = 0
    }

    /// How many 502, 503 or 504 answers in a row eject an instance. A 500 does not count:
    /// it is more often one request's fault than the instance's.
    static let gatewayErrorsToEject = 5

    init(
        upstream: String,
        address: UpstreamAddress,
        breaker: CircuitBreaker,
        ejection: EjectionPolicy,
        now: @escaping @Sendable () -> ContinuousClock.Instant,
        onAvailability: @escaping @Sendable (Bool) -> Void
    ) {
        self.upstream = upstream
        self.address = address
        self.breaker = breaker
        self.ejection = ejection
        self.now = now
        self.onAvailability = onAvailability
        onAvailability(true)
    }

    /// Whether requests may go to it now.
    public var isAvailable: Bool {
        let now = now()
        let usable = state.withLock { state in
            state.passedHealthCheck && (state.ejectedUntil.map { now >= $0 } ?? true)
        }
        return usable && breaker.state != .open
    }

    /// How long until it may take requests again, as far as the gateway can tell.
    func wait(healthInterval: Duration) -> Duration {
        let now = now()
        return state.withLock { state in
            if !state.passedHealthCheck { return healthInterval }
            if let until = state.ejectedUntil, until > now { return until - now }
            return healthInterval
        }
    }

    /// A request reached it and was answered with `status`.
    func answered(status: Int) {
        guard [502, 503, 504].contains(status) else {
            let changed = state.withLock { state in
                defer { (state.failures, state.gatewayErrors) = (0, 0) }
                return state.failures > 0
            }
            if changed { onAvailability(isAvailable) }
            return
        }
        let now = now()
        let ejected = state.withLock { state in
            state.gatewayErrors += 1
            guard state.gatewayErrors >= Self.gatewayErrorsToEject else { return false }
            state.gatewayErrors = 0
            state.failures += 1
            state.ejectedUntil = now + ejection.duration(afterFailures: state.failures)
            return true
        }
        if ejected { onAvailability(false) }
    }

    /// A connection to it failed or timed out: ejected for a while.
    func failed() {
        let now = now()
        state.withLock { state in
            state.failures += 1
            state.ejectedUntil = now + ejection.duration(afterFailures: state.failures)
        }
        onAvailability(false)
    }

    /// The outcome of a health check: answered `/health/ready` with 200, or not.
    func checked(healthy: Bool) {
        state.withLock { state in
            state.passedHealthCheck = healthy
            if healthy { state.ejectedUntil = nil }
        }
        onAvailability(isAvailable)
    }
}

/// How long an instance whose connections fail is left alone.
public struct EjectionPolicy: Sendable, Hashable {
    /// After the first failure.
    public var first: Duration
    /// The most, however long it keeps failing.
    public var longest: Duration

    public init(first: Duration = .seconds(5), longest: Duration = .seconds(30)) {
        precondition(first > .zero && longest >= first, "an ejection must be positive and its longest at least its first")
        self.first = first
        self.longest = longest
    }

    /// `first`, doubled for every failure after the first, at most `longest`.
    func duration(afterFailures failures: Int) -> Duration {
        var duration = first
        for _ in 1..<max(1, min(failures, 16)) where duration < longest { duration *= 2 }
        return min(duration, longest)
    }
}
