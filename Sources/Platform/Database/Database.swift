import Logging
public import SQLKit

/// Which SQL engine a ``Database`` talks to.
public enum DatabaseKind: String, Sendable {
    case sqlite
    case postgres
}

/// A service's SQL database: a pool of connections that hands out an SQLKit
/// `SQLDatabase` for one unit of work.
///
/// Two real implementations: ``SQLiteDatabase`` (embedded default, one file per service)
/// and ``PostgresDatabase``. Store code is written once against SQLKit and runs on both.
public protocol Database: Sendable {
    var kind: DatabaseKind { get }

    /// Runs `body` with a connection for reads. On SQLite this never waits for a writer.
    func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result

    /// Runs `body` in one transaction: committed when it returns, rolled back when it
    /// throws. Every write goes through here.
    func transaction<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result

    /// Answers whether the database can serve a trivial query now.
    func ping() async throws

    /// Closes every connection. The database cannot be used afterwards.
    func close() async throws
}

extension Database {
    public func ping() async throws {
        _ = try await read { try await $0.raw("SELECT 1 AS one").all() }
    }
}

/// The database could not be reached; the request may succeed later.
public struct DatabaseUnavailable: Error, CustomStringConvertible {
    public var underlying: any Error

    public init(underlying: any Error) {
        self.underlying = underlying
    }

    public var description: String { "database unavailable: \(String(reflecting: underlying))" }
}

extension SQLDatabase {
    /// Runs `body` between `begin` and `COMMIT` on this connection, rolling back when it
    /// throws; the caller sees its own error, never a wrapper.
    func runTransaction<Result>(
        begin: String,
        logger: Logger,
        isolation: isolated (any Actor)? = #isolation,
        _ body: (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        try await raw(SQLQueryString(begin)).run()
        do {
            let result = try await body(self)
            try await raw("COMMIT").run()
            return result
        } catch {
            do {
                // In a task of its own: a cancelled caller (a consumer stopped mid-handling)
                // must still leave the connection outside any transaction.
                let connection = self
                try await Task { try await connection.raw("ROLLBACK").run() }.value
            } catch let rollbackError {
                logger.error("rollback failed", metadata: ["error": "\(rollbackError)"])
            }
            throw error
        }
    }
}
