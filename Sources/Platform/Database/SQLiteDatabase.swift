public import Logging
import NIOPosix
import SQLKit
import SQLiteKit
import SQLiteNIO
import Synchronization

/// The embedded database: one SQLite file in WAL mode, one writer connection that
/// serialises transactions, and a few reader connections that never wait for it.
public final class SQLiteDatabase: Database {
    public var kind: DatabaseKind { .sqlite }

    private let writer: SQLiteConnection
    private let readers: [SQLiteConnection]
    private let writeLock = AsyncLock()
    private let nextReader = Atomic<Int>(0)
    private let logger: Logger

    private init(writer: SQLiteConnection, readers: [SQLiteConnection], logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, readers: Int = 4, logger: Logger) async throws -> SQLiteDatabase {
        let writer = try await openConnection(path: path, logger: logger)
        // WAL lets readers run beside the writer; FULL sync makes each commit durable.
        _ = try await writer.sql().raw("PRAGMA journal_mode = WAL").all()
        var readerConnections: [SQLiteConnection] = []
        for _ in 0..<max(1, readers) {
            readerConnections.append(try await openConnection(path: path, logger: logger))
        }
        return SQLiteDatabase(writer: writer, readers: readerConnections, logger: logger)
    }

    private static func openConnection(path: String, logger: Logger) async throws -> SQLiteConnection {
        let connection = try await SQLiteConnection.open(
            storage: .file(path: path),
            threadPool: NIOThreadPool.singleton,
            logger: logger,
            on: MultiThreadedEventLoopGroup.singleton.any()
        )
        let sql = connection.sql()
        // A real timeout replaces the driver's busy handler, which retries without pause.
        try await sql.raw("PRAGMA busy_timeout = 5000").run()
        try await sql.raw("PRAGMA synchronous = FULL").run()
        try await sql.raw("PRAGMA foreign_keys = ON").run()
        return connection
    }

    public func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        let connection = readers[index % readers.count]
        return try await body(connection.sql(queryLogLevel: .trace))
    }

    public func transaction<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        try await writeLock.withLock {
            try await writer.sql(queryLogLevel: .trace).runTransaction(begin: "BEGIN IMMEDIATE", logger: logger, body)
        }
    }

    public func close() async throws {
        try await writeLock.withLock {
            for reader in readers { try await reader.close() }
            try await writer.close()
        }
    }
}
