public import Logging
public import SQLKit
import Synchronization

/// A database that counts its write transactions as they end, so that what was read from
/// it can be kept in memory for as long as the count has not moved.
///
/// Exact where this process is the database's only writer (the embedded SQLite file
/// all-in-one); where other processes write too, only this one's writes move the count,
/// and what is kept must also age out (``KeptWhileUnwritten``'s `maximumAge`). A reader
/// takes ``generation`` before it reads and keeps its result under
/// that value: a write that commits during the read moves the count after its commit, so
/// the result is never kept under a count that claims to be newer than the data.
///
/// With a ``SharedWriteCount`` (a service on PostgreSQL beside Redis), every instance's
/// writes move the count too: ``currentGeneration()`` reads both, so what one instance
/// keeps is dropped when any instance writes.
public final class WriteCountingDatabase: Database {
    public let base: any Database
    private let writes = Atomic<UInt64>(0)
    /// Every instance's write transactions, counted in Redis.
    public let shared: (any SharedWriteCount)?
    private let logger: Logger?

    public init(_ base: any Database, shared: (any SharedWriteCount)? = nil, logger: Logger? = nil) {
        self.base = base
        self.shared = shared
        self.logger = logger
    }

    /// This process's count of writes and, with a shared count, every instance's: nil when
    /// the shared count cannot be read (then nothing may be used or kept).
    public struct Generation: Sendable, Hashable {
        public let local: UInt64
        public let shared: UInt64?
    }

    /// The generation now: taken before a read, compared after it.
    public func currentGeneration() async -> Generation? {
        let local = generation
        guard let shared else { return Generation(local: local, shared: nil) }
        do {
            return Generation(local: local, shared: try await shared.current())
        } catch {
            return nil
        }
    }

    public var kind: DatabaseKind { base.kind }

    /// How many write transactions have ended (committed or not).
    public var generation: UInt64 { writes.load(ordering: .acquiring) }

    public func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await base.read(body)
    }

    public func transaction<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        let result: Result
        do {
            result = try await base.transaction(body)
        } catch {
            await counted()
            throw error
        }
        await counted()
        return result
    }

    /// Moves the counts after a write transaction ended. A shared count that cannot be moved
    /// leaves other instances' kept reads as they are until their age runs out: logged.
    private func counted() async {
        writes.add(1, ordering: .releasing)
        guard let shared else { return }
        do {
            try await shared.increment()
        } catch {
            logger?.error("shared write count not moved; other instances keep reads until they age out", metadata: ["error": "\(error)"])
        }
    }

    public func ping() async throws {
        try await base.ping()
    }

    public func close() async throws {
        try await base.close()
    }
}
