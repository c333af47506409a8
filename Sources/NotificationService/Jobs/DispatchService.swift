import Logging
import ServiceLifecycle

/// Runs the dispatcher every `interval` until the service group stops. A graceful stop
/// lets the sends in flight finish and be recorded (a send cut off after the server took
/// the message would be sent again) and claims nothing more.
struct DispatchService: Service {
    let dispatcher: Dispatcher
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await dispatcher.dispatchDue()
            } catch {
                logger.warning("sending notifications failed; trying again", metadata: ["error": "\(String(reflecting: error))"])
            }
            // Only the wait is cut short by a graceful stop, never a send.
            try? await cancelWhenGracefulShutdown {
                try await Task.sleep(for: interval)
            }
        }
    }
}
