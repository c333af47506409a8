import Synchronization

/// Stops calling an upstream that keeps failing, so that its callers fail at once instead
/// of each waiting for a timeout, and the upstream gets room to recover.
///
/// Closed, calls go through and consecutive failures are counted; `failureThreshold` of
/// them open the breaker. Open, calls are refused with ``CircuitOpenError`` without being
/// made. Once `openDuration` has passed, the next calls find it half-open: up to
/// `halfOpenProbes` of them go through as trials, the first to succeed closes it and the
/// first to fail opens it again.
///
/// What is a failure is the caller's to say (``run(_:isFailure:)``): an answer that
/// refuses the request (out of stock, not found) proves the upstream alive and counts as
/// a success. A call abandoned because its caller was cancelled counts as neither.
///
/// One breaker per upstream, shared by every caller of it; it is cheap (one lock taken
/// before and after a call).
public final class CircuitBreaker: Sendable {
    /// Where a breaker stands.
    public enum State: Sendable, Hashable {
        /// Calls go through.
        case closed
        /// Trial calls go through; the others are refused.
        case halfOpen
        /// Calls are refused without being made.
        case open
    }

    /// When a breaker opens, and for how long.
    public struct Configuration: Sendable, Hashable {
        /// Consecutive failures that open a closed breaker.
        public var failureThreshold: Int
        /// How long an open breaker refuses calls before it lets trials through.
        public var openDuration: Duration
        /// How many trial calls a half-open breaker lets through at a time.
        public var halfOpenProbes: Int

        /// Every value must be positive.
        public init(failureThreshold: Int = 5, openDuration: Duration = .seconds(10), halfOpenProbes: Int = 1) {
            precondition(failureThreshold > 0, "a circuit breaker's failureThreshold must be positive")
            precondition(openDuration > .zero, "a circuit breaker's openDuration must be positive")
            precondition(halfOpenProbes > 0, "a circuit breaker's halfOpenProbes must be positive")
            self.failureThreshold = failureThreshold
            self.openDuration = openDuration
            self.halfOpenProbes = halfOpenProbes
        }
    }

    /// What the upstream is called in errors and metrics, e.g. `products`.
    public let name: String
    public let configuration: Configuration
    private let now: @Sendable () -> ContinuousClock.Instant
    private let onStateChange: (@Sendable (_ name: String, _ state: State) -> Void)?
    private let onRejection: (@Sendable (_ name: String) -> Void)?
    private let machine: Mutex<Machine>

    /// - Parameters:
    ///   - name: the upstream, from code (it labels metrics, so it must not come from a request).
    ///   - now: the clock the open duration is measured on (tests pass their own).
    ///   - onStateChange: told of every change of state, in order. It is called while the
    ///     breaker holds its lock: it must be quick and must not call back into the breaker.
    ///   - onRejection: told of every call refused because the breaker is open or its
    ///     trials are taken.
    public init(
        name: String,
        configuration: Configuration = Configuration(),
        now: @escaping @Sendable () -> ContinuousClock.Instant = { .now },
        onStateChange: (@Sendable (_ name: String, _ state: State) -> Void)? = nil,
        onRejection: (@Sendable (_ name: String) -> Void)? = nil
    ) {
        self.name = name
        self.configuration = configuration
        self.now = now
        self.onStateChange = onStateChange
        self.onRejection = onRejection
        machine = Mutex(Machine(configuration: configuration))
    }

    /// Where the breaker stands. An open breaker whose open duration has passed reads
    /// `open` until the next call, which makes it half-open.
    public var state: State {
        machine.withLock { $0.state }
    }

    /// Calls `operation` unless the breaker is open, and counts its outcome.
    ///
    /// Runs on the caller's executor. The error `operation` throws is thrown unchanged.
    ///
    /// - Parameter isFailure: whether an error `operation` threw counts against the
    ///   upstream (unreachable, timed out, failed on its side). Errors it answers `false`
    ///   for count as successes.
    /// - Throws: ``CircuitOpenError`` at once, without calling `operation`, while open.
    public nonisolated(nonsending) func run<T: Sendable>(
        _ operation: () async throws -> T,
        isFailure: (any Error) -> Bool = { _ in true }
    ) async throws -> T {
        guard let ticket = admit() else {
            onRejection?(name)
            throw CircuitOpenError(name: name)
        }
        let value: T
        do {
            value = try await operation()
        } catch {
            if Task.isCancelled {
                settle(ticket, .abandoned)
            } else {
                settle(ticket, isFailure(error) ? .failure : .success)
            }
            throw error
        }
        settle(ticket, .success)
        return value
    }

    private func admit() -> Machine.Ticket? {
        let now = now()
        return machine.withLock { machine in
            let (ticket, change) = machine.admit(now: now)
            if let change { onStateChange?(name, change) }
            return ticket
        }
    }

    private func settle(_ ticket: Machine.Ticket, _ outcome: Machine.Outcome) {
        let now = now()
        machine.withLock { machine in
            if let change = machine.settle(ticket, outcome, now: now) { onStateChange?(name, change) }
        }
    }
}

/// A call refused without being made, because the breaker of its upstream is open.
public struct CircuitOpenError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The breaker's name: the upstream that is failing.
    public let name: String

    public init(name: String) {
        self.name = name
    }

    public var description: String { "circuit breaker \(name) is open" }
}

/// The states of a breaker and the only ways between them.
private struct Machine {
    enum Phase {
        case closed(failures: Int)
        case open(until: ContinuousClock.Instant)
        case halfOpen(trials: Int)
    }

    enum Outcome {
        case success
        case failure
        /// The caller was cancelled: the call says nothing about the upstream.
        case abandoned
    }

    /// A call let through, and the state it was let through in.
    struct Ticket {
        let generation: Int
    }

    let configuration: CircuitBreaker.Configuration
    var phase = Phase.closed(failures: 0)
    /// Moves on with every change of state, so that the outcome of a call let through
    /// before it (a slow call that was already running when the breaker opened) is ignored.
    var generation = 0

    init(configuration: CircuitBreaker.Configuration) {
        self.configuration = configuration
    }

    var state: CircuitBreaker.State {
        switch phase {
        case .closed: .closed
        case .open: .open
        case .halfOpen: .halfOpen
        }
    }

    /// A ticket if the call may go through, and the new state if letting it through
    /// changed the state.
    mutating func admit(now: ContinuousClock.Instant) -> (Ticket?, CircuitBreaker.State?) {
        switch phase {
        case .closed:
            return (Ticket(generation: generation), nil)
        case .open(let until) where now < until:
            return (nil, nil)
        case .open:
            enter(.halfOpen(trials: 1))
            return (Ticket(generation: generation), .halfOpen)
        case .halfOpen(let trials) where trials < configuration.halfOpenProbes:
            phase = .halfOpen(trials: trials + 1)
            return (Ticket(generation: generation), nil)
        case .halfOpen:
            return (nil, nil)
        }
    }

    /// Counts the outcome of a call; the new state if it changed the state.
    mutating func settle(_ ticket: Ticket, _ outcome: Outcome, now: ContinuousClock.Instant) -> CircuitBreaker.State? {
        guard ticket.generation == generation else { return nil }
        switch (phase, outcome) {
        case (_, .abandoned):
            if case .halfOpen(let trials) = phase { phase = .halfOpen(trials: trials - 1) }
            return nil
        case (.closed, .success):
            phase = .closed(failures: 0)
            return nil
        case (.closed(let failures), .failure) where failures + 1 < configuration.failureThreshold:
            phase = .closed(failures: failures + 1)
            return nil
        case (.closed, .failure), (.halfOpen, .failure):
            enter(.open(until: now + configuration.openDuration))
            return .open
        case (.halfOpen, .success):
            enter(.closed(failures: 0))
            return .closed
        case (.open, _):
            // No call is let through in this generation while open.
            return nil
        }
    }

    private mutating func enter(_ phase: Phase) {
        self.phase = phase
        generation += 1
    }
}
