import Synchronization

/// The enabled webhook endpoints, kept in memory between the writes to them, for a database
/// only this process writes (SQLite). Every event that webhooks can take asks for them, three
/// times per checkout, and they change only when an admin edits one or a delivery turns one
/// off.
///
/// A write bumps the generation when it starts and again once it has committed (or failed). A
/// read takes the generation before it reads and keeps its result only if the generation has
/// not moved by the end, so a read that overlapped a write is answered but never kept. What is
/// kept is also dropped after `maximumAge`, for a writer in another process.
///
/// Not ``KeptWhileUnwritten``: that one keeps a value while its database's count of write
/// transactions stands still, and Notifications' database is written at every event.
final class KeptEndpoints: Sendable {
    private struct Kept {
        var generation: Int
        var at: ContinuousClock.Instant
        var endpoints: [WebhookEndpoint]
    }

    private struct State {
        var generation = 0
        var kept: Kept?
    }

    private let state = Mutex(State())
    private let maximumAge: Duration

    init(maximumAge: Duration = .seconds(1)) {
        self.maximumAge = maximumAge
    }

    /// Runs `write`, a change to the endpoints, so that nothing read before it ends is kept.
    func changing<Result>(_ write: () async throws -> Result) async throws -> Result {
        bump()
        defer { bump() }
        return try await write()
    }

    /// The kept endpoints while they are current, otherwise what `read` answers now.
    func enabled(read: () async throws -> [WebhookEndpoint]) async throws -> [WebhookEndpoint] {
        let now = ContinuousClock.now
        let (generation, current) = state.withLock { state -> (Int, [WebhookEndpoint]?) in
            guard let kept = state.kept, kept.generation == state.generation, now - kept.at <= maximumAge else {
                return (state.generation, nil)
            }
            return (state.generation, kept.endpoints)
        }
        if let current { return current }
        let fresh = try await read()
        state.withLock { state in
            if state.generation == generation { state.kept = Kept(generation: generation, at: now, endpoints: fresh) }
        }
        return fresh
    }

    private func bump() {
        state.withLock { state in
            state.generation += 1
            state.kept = nil
        }
    }
}
