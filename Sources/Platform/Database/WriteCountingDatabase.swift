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
public final class WriteCountingDatabase: Database {
    public let base: any Database
    private let writes = Atomic<UInt64>(0)

    public init(_ base: any Database) {
        self.base = base
    }

    public var kind: DatabaseKind { base.kind }

    /// How many write transactions have ended (committed or not).
    public var generation: UInt64 { writes.load(ordering: .acquiring) }

    public func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await base.read(body)
    }

    public func transaction<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        defer { writes.add(1, ordering: .releasing) }
        return try await base.transaction(body)
    }

    public func ping() async throws {
        try await base.ping()
    }

    public func close() async throws {
        try await base.close()
    }
}
