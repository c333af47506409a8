import Logging
public import ServiceLifecycle
import Synchronization

/// The first thing a stop does: `/health/ready` starts failing while every listener still
/// serves, for `delay`, so that load balancers and the gateway's health checks take the
/// instance out of rotation before its listeners close. Then the stop goes on as before
/// (listeners close, requests in flight finish).
///
/// Run it last in the service group: a graceful shutdown stops services in reverse order,
/// each after the one behind it has returned.
public final class ReadinessDrain: Service, Sendable {
    private let delay: Duration
    private let logger: Logger
    private let draining = Atomic(false)

    public init(delay: Duration, logger: Logger) {
        self.delay = delay
        self.logger = logger
    }

    /// A readiness check that fails once the stop has begun.
    public var healthCheck: HealthCheck {
        HealthCheck("drain") { [self] in
            if draining.load(ordering: .relaxed) { throw Draining() }
        }
    }

    public func run() async throws {
        do {
            try await gracefulShutdown()
        } catch is CancellationError {
            return
        }
        draining.store(true, ordering: .relaxed)
        logger.notice(
            "stopping: not ready any more, serving on while load balancers notice",
            metadata: ["drain_seconds": "\(delay.components.seconds)"]
        )
        // Not cut short by the stop itself: only a cancellation (the grace ran out) ends it.
        try? await Task.sleep(for: delay)
    }

    struct Draining: Error, CustomStringConvertible {
        var description: String { "the instance is stopping" }
    }
}
