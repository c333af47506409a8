import Logging
public import ServiceLifecycle

/// Background work that runs every `interval` until the service group shuts down:
/// housekeeping such as purging expired idempotency records.
public struct PeriodicJob: Service {
    public let name: String
    let interval: Duration
    let work: @Sendable () async throws -> Void
    let logger: Logger

    public init(_ name: String, every interval: Duration, logger: Logger, work: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.work = work
        self.logger = logger
    }

    /// While a job keeps failing (its backend down), how often it says so again.
    public static let repeatedFailureLogInterval = Duration.seconds(60)

    public func run() async throws {
        // Waits first (the schema is migrated while the server starts), and ends at
        // graceful shutdown.
        await cancelWhenGracefulShutdown {
            // A job that runs every second and fails for as long as Redis is down says so
            // when it starts failing, once a minute while it goes on, and when it works
            // again: not once a run.
            var failures = 0
            var lastSaid: ContinuousClock.Instant?
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                do {
                    try await work()
                    if failures > 0 {
                        logger.notice("periodic job works again", metadata: ["job": "\(name)", "failures": "\(failures)"])
                        failures = 0
                        lastSaid = nil
                    }
                } catch {
                    failures += 1
                    let now = ContinuousClock.now
                    if let lastSaid, now - lastSaid < Self.repeatedFailureLogInterval { continue }
                    lastSaid = now
                    logger.warning(
                        "periodic job failed",
                        metadata: ["job": "\(name)", "error": "\(String(reflecting: error))", "failures": "\(failures)"]
                    )
                }
            }
        }
    }
}
