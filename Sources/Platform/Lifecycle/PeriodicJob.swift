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

    public func run() async throws {
        // Waits first (the schema is migrated while the server starts), and ends at
        // graceful shutdown.
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                guard !Task.isCancelled else { return }
                do {
                    try await work()
                } catch {
                    logger.warning("periodic job failed", metadata: ["job": "\(name)", "error": "\(String(reflecting: error))"])
                }
            }
        }
    }
}
