public import ServiceLifecycle
import Synchronization

/// A one-way gate: services behind it wait until it opens (e.g. once the schema is
/// migrated), and every later wait passes at once.
public final class StartGate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Lets every waiter, and every later one, through.
    public func open() {
        let waiters = state.withLock { state in
            state.isOpen = true
            defer { state.waiters = [:] }
            return state.waiters
        }
        for waiter in waiters.values { waiter.resume() }
    }

    /// Returns once the gate is open, or the task is cancelled (a stop before the schema
    /// was ready must not leave the process waiting forever).
    public func wait() async {
        let id = state.withLock { state in
            defer { state.nextWaiter += 1 }
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let passes = state.withLock { state in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if passes { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// `service`, started only once this gate opens.
    public func guarding(_ service: any Service) -> any Service {
        GatedService(gate: self, service: service)
    }
}

struct GatedService: Service {
    let gate: StartGate
    let service: any Service

    func run() async throws {
        // Ends at graceful shutdown even if the gate never opened.
        await cancelWhenGracefulShutdown { await gate.wait() }
        guard !Task.isCancelled else { return }
        try await service.run()
    }
}
