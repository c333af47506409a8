import Synchronization

/// One value read from a ``WriteCountingDatabase``, kept while no write transaction of it
/// has ended since, and for at most `maximumAge` (for a writer outside the process).
///
/// A read takes the count before it reads and keeps its result only if the count has not
/// moved by the end: a read racing a write is answered, never kept.
public final class KeptWhileUnwritten<Value: Sendable>: Sendable {
    private struct Kept {
        var generation: WriteCountingDatabase.Generation
        var at: ContinuousClock.Instant
        var value: Value
    }

    private let database: WriteCountingDatabase
    private let maximumAge: Duration
    private let kept = Mutex<Kept?>(nil)

    public init(database: WriteCountingDatabase, maximumAge: Duration = .seconds(1)) {
        self.database = database
        self.maximumAge = maximumAge
    }

    /// The kept value if it is still current, otherwise what `read` answers now.
    public func value(read: () async throws -> Value) async throws -> Value {
        guard let generation = await database.currentGeneration() else { return try await read() }
        let now = ContinuousClock.now
        let current = kept.withLock { kept -> Value? in
            guard let kept, kept.generation == generation, now - kept.at <= maximumAge else { return nil }
            return kept.value
        }
        if let current { return current }
        let fresh = try await read()
        kept.withLock { kept in
            if database.generation == generation.local { kept = Kept(generation: generation, at: now, value: fresh) }
        }
        return fresh
    }
}
