import HTTPTypes
public import Hummingbird
import NIOCore
import Synchronization

/// Whole answers built from a ``WriteCountingDatabase``, by key (a list's path and query),
/// kept while no write transaction of it has ended since and for at most `maximumAge`: a
/// repeated read sends the bytes it sent before instead of reading and encoding them again.
///
/// Exact where this process is the database's only writer (the embedded SQLite file), or
/// where every instance moves a shared count of writes (PostgreSQL beside Redis); the age
/// bounds what a writer that moves no count (a maintenance command, or a write whose shared
/// count could not be moved) can leave stale.
/// At most `limit` keys: a client choosing new queries evicts arbitrary ones.
public final class KeptAnswers: Sendable {
    private struct Kept {
        var at: ContinuousClock.Instant
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: ByteBuffer
    }

    /// The answers kept under one count of writes; all go when it moves, so nothing a write
    /// changed or removed (a deleted user's name) stays in memory after it.
    private struct State {
        var generation: WriteCountingDatabase.Generation? = nil
        var answers: [String: Kept] = [:]
    }

    private let database: WriteCountingDatabase
    private let limit: Int
    private let maximumAge: Duration
    private let state = Mutex(State())

    public init(database: WriteCountingDatabase, limit: Int = 256, maximumAge: Duration = .seconds(1)) {
        self.database = database
        self.limit = limit
        self.maximumAge = maximumAge
    }

    /// The answer kept under `key` if it is still current, otherwise `make()`'s, which is
    /// kept if it succeeded and no write ended while it was made.
    public func response(for key: String, make: () async throws -> Response) async throws -> Response {
        // The count cannot be read: the answer is made, and kept by nobody.
        guard let generation = await database.currentGeneration() else { return try await make() }
        let now = ContinuousClock.now
        let current = state.withLock { state -> Kept? in
            if state.generation != generation {
                state.answers.removeAll()
                state.generation = generation
            }
            guard let found = state.answers[key], now - found.at <= maximumAge else { return nil }
            return found
        }
        if let current { return Response(status: current.status, headers: current.headers, body: .init(byteBuffer: current.body)) }
        let made = try await make()
        guard made.status == .ok else { return made }
        let collector = BodyCollector()
        try await made.body.write(collector)
        let body = ByteBuffer(bytes: collector.bytes.withLockedValue { $0 })
        // Kept only if no write of this process ended while it was made (a shared count that
        // moved meanwhile shows at the next read, which drops it).
        let local = database.generation
        state.withLock { state in
            guard state.generation == generation, local == generation.local else { return }
            if state.answers.count >= limit, state.answers[key] == nil {
                // A tenth goes, in the dictionary's (arbitrary) order.
                for evicted in Array(state.answers.keys.prefix(max(1, limit / 10))) { state.answers.removeValue(forKey: evicted) }
            }
            state.answers[key] = Kept(at: now, status: made.status, headers: made.headers, body: body)
        }
        return Response(status: made.status, headers: made.headers, body: .init(byteBuffer: body))
    }

    /// Forgets every kept answer now (after a user is deleted, say).
    public func removeAll() {
        state.withLock { $0.answers.removeAll() }
    }

    /// How many answers are kept, for tests.
    public var count: Int { state.withLock { $0.answers.count } }
}
