import Foundation
import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO
import SQLiteOptions
import Synchronization
import VaporCSQLite

/// One connection to an SQLite file, used on the calling thread.
///
/// A statement is compiled once and kept (up to ``statementLimit`` of them; then all are
/// dropped and compiled again as they come), and a query runs where it is asked for: no
/// hand-off to a thread pool and back, no event loop between rows. Each statement holds the
/// connection's lock only while it binds, steps and resets, which takes microseconds; the
/// writer's commit, which waits for `fsync`, is the longest. ``SQLiteDatabase`` decides who
/// may use which connection when.
final class SQLiteHandle: Sendable {
    /// How many compiled statements one connection keeps. The SQL comes from our code, but
    /// lists of ids give one text per length, so the cache is bounded.
    static let statementLimit = 512

    private let lock = Mutex(())
    private let connection: Connection
    let path: String

    private init(connection: Connection, path: String) {
        self.connection = connection
        self.path = path
    }

    /// Opens (creating if needed) the file at `path`.
    static func open(path: String) throws(SQLiteFailure) -> SQLiteHandle {
        _ = initialized
        var raw: OpaquePointer?
        let flags = SQLITE_OPEN_CREATE | SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &raw, flags, nil)
        guard status == SQLITE_OK, let raw else {
            let message = raw.map(SQLiteFailure.message(of:)) ?? "out of memory"
            sqlite_nio_sqlite3_close_v2(raw)
            throw SQLiteFailure(code: status, message: "could not open \(path): \(message)")
        }
        // Without it SQLite compiles a kept statement again whenever a new value is bound
        // to a parameter its plan looked at (the LIMIT, a column of a partial index), which
        // was a tenth of checkout's CPU. Our partial indexes are matched by literals.
        let stable = shop_sqlite_enable_stable_plans(raw)
        guard stable == SQLITE_OK else {
            sqlite_nio_sqlite3_close_v2(raw)
            throw SQLiteFailure(code: stable, message: "could not set up \(path)")
        }
        return SQLiteHandle(connection: Connection(raw: raw), path: path)
    }

    /// Runs one statement, calling `onRow` with each row it returns.
    func run(_ sql: String, _ binds: [SQLiteData], _ onRow: (any SQLRow) -> Void) throws(SQLiteFailure) {
        try lock.withLock { _ throws(SQLiteFailure) in
            try connection.run(sql, binds, onRow)
        }
    }

    /// How many times SQLite compiled one of the kept statements again (a schema change).
    var recompiled: Int {
        lock.withLock { _ in connection.recompiled }
    }

    /// Whether a transaction is open on the connection (SQLite ends one by itself on some
    /// failures).
    var isInTransaction: Bool {
        lock.withLock { _ in connection.isInTransaction }
    }

    /// Drops every kept statement and closes the connection; it cannot be used afterwards.
    func close() {
        lock.withLock { _ in connection.close() }
    }

    /// `sqlite3_initialize` once per process, before the first connection opens.
    private static let initialized: Void = {
        _ = sqlite_nio_sqlite3_initialize()
    }()

    /// The connection and its compiled statements, only ever touched under the lock.
    private final class Connection: @unchecked Sendable {
        private var raw: OpaquePointer?
        private var statements: [String: Statement] = [:]
        /// How many times SQLite compiled a kept statement again before running it.
        var recompiled = 0

        init(raw: OpaquePointer) {
            self.raw = raw
        }

        func run(_ sql: String, _ binds: [SQLiteData], _ onRow: (any SQLRow) -> Void) throws(SQLiteFailure) {
            guard let raw else { throw SQLiteFailure(code: SQLITE_MISUSE, message: "the connection is closed") }
            let statement = try self.statement(for: sql, on: raw)
            defer {
                recompiled += Int(sqlite_nio_sqlite3_stmt_status(statement.handle, SQLITE_STMTSTATUS_REPREPARE, 1))
                sqlite_nio_sqlite3_reset(statement.handle)
                sqlite_nio_sqlite3_clear_bindings(statement.handle)
            }
            try statement.bind(binds, on: raw)
            while true {
                let status = sqlite_nio_sqlite3_step(statement.handle)
                if status == SQLITE_DONE { return }
                guard status == SQLITE_ROW else { throw SQLiteFailure(code: status, message: SQLiteFailure.message(of: raw)) }
                onRow(statement.row())
            }
        }

        var isInTransaction: Bool {
            raw.map { sqlite_nio_sqlite3_get_autocommit($0) == 0 } ?? false
        }

        private func statement(for sql: String, on raw: OpaquePointer) throws(SQLiteFailure) -> Statement {
            if let kept = statements[sql] { return kept }
            var handle: OpaquePointer?
            let status = sqlite_nio_sqlite3_prepare_v3(raw, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &handle, nil)
            guard status == SQLITE_OK, let handle else {
                sqlite_nio_sqlite3_finalize(handle)
                throw SQLiteFailure(code: status, message: SQLiteFailure.message(of: raw))
            }
            if statements.count >= SQLiteHandle.statementLimit { finalizeAll() }
            let statement = Statement(handle: handle)
            statements[sql] = statement
            return statement
        }

        private func finalizeAll() {
            for statement in statements.values { sqlite_nio_sqlite3_finalize(statement.handle) }
            statements.removeAll(keepingCapacity: true)
        }

        func close() {
            finalizeAll()
            sqlite_nio_sqlite3_close_v2(raw)
            raw = nil
        }
    }

    /// A compiled statement and the names of the columns it returns.
    private struct Statement {
        let handle: OpaquePointer
        let columns: SQLiteColumns

        init(handle: OpaquePointer) {
            self.handle = handle
            let count = sqlite_nio_sqlite3_column_count(handle)
            self.columns = SQLiteColumns(names: (0..<count).map { sqlite_nio_sqlite3_column_name(handle, $0).map { String(cString: $0) } ?? "" })
        }

        func bind(_ binds: [SQLiteData], on raw: OpaquePointer) throws(SQLiteFailure) {
            for (offset, value) in binds.enumerated() {
                let index = Int32(offset + 1)
                let status: Int32
                switch value {
                case .integer(let integer):
                    status = sqlite_nio_sqlite3_bind_int64(handle, index, Int64(integer))
                case .float(let double):
                    status = sqlite_nio_sqlite3_bind_double(handle, index, double)
                case .text(let text):
                    var text = text
                    status = text.withUTF8 {
                        sqlite_nio_sqlite3_bind_text64(handle, index, $0.baseAddress, UInt64($0.count), transient, UInt8(SQLITE_UTF8))
                    }
                case .blob(let buffer):
                    status = buffer.withUnsafeReadableBytes {
                        sqlite_nio_sqlite3_bind_blob64(handle, index, $0.baseAddress, UInt64($0.count), transient)
                    }
                case .null:
                    status = sqlite_nio_sqlite3_bind_null(handle, index)
                }
                guard status == SQLITE_OK else { throw SQLiteFailure(code: status, message: SQLiteFailure.message(of: raw)) }
            }
        }

        func row() -> SQLiteResultRow {
            var values: [SQLiteData] = []
            values.reserveCapacity(columns.names.count)
            for column in 0..<Int32(columns.names.count) {
                values.append(value(at: column))
            }
            return SQLiteResultRow(columns: columns, values: values)
        }

        private func value(at column: Int32) -> SQLiteData {
            switch sqlite_nio_sqlite3_column_type(handle, column) {
            case SQLITE_INTEGER:
                return .integer(Int(sqlite_nio_sqlite3_column_int64(handle, column)))
            case SQLITE_FLOAT:
                return .float(sqlite_nio_sqlite3_column_double(handle, column))
            case SQLITE_TEXT:
                // The text first, then its length, as SQLite asks.
                guard let text = sqlite_nio_sqlite3_column_text(handle, column) else { return .text("") }
                let count = Int(sqlite_nio_sqlite3_column_bytes(handle, column))
                return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
            case SQLITE_BLOB:
                let bytes = sqlite_nio_sqlite3_column_blob(handle, column)
                let count = Int(sqlite_nio_sqlite3_column_bytes(handle, column))
                var buffer = ByteBufferAllocator().buffer(capacity: count)
                if let bytes { buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count)) }
                return .blob(buffer)
            default:
                return .null
            }
        }
    }
}

/// `SQLITE_TRANSIENT`: SQLite copies a bound text or blob before the call returns.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// The column names of one statement's rows, shared by all of them.
final class SQLiteColumns: Sendable {
    let names: [String]
    let positions: [String: Int]

    init(names: [String]) {
        self.names = names
        self.positions = Dictionary(names.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
    }
}

/// One row, read by SQLKit through the same decoder as SQLiteKit's rows.
struct SQLiteResultRow: SQLRow {
    let columns: SQLiteColumns
    let values: [SQLiteData]

    var allColumns: [String] { columns.names }

    func contains(column: String) -> Bool {
        columns.positions[column] != nil
    }

    func decodeNil(column: String) throws -> Bool {
        guard let position = columns.positions[column] else { return true }
        return values[position] == .null
    }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let position = columns.positions[column] else {
            throw SQLiteFailure(code: SQLITE_MISUSE, message: "no column \(column) in the row")
        }
        let value = values[position]
        if let decoded = Self.plain(value, as: D.self) { return decoded }
        return try SQLiteDataDecoder().decode(D.self, from: value)
    }

    /// The value as `D` when it is stored as that very type (or NULL for an optional), the
    /// common case, without the decoder's protocol lookups; nil for the decoder to answer.
    private static func plain<D>(_ value: SQLiteData, as type: D.Type) -> D? {
        switch value {
        case .integer(let number):
            if D.self == Int64.self { return unsafeBitCast(Int64(number), to: D.self) }
            if D.self == Int64?.self { return unsafeBitCast(Int64?.some(Int64(number)), to: D.self) }
            if D.self == Int.self { return unsafeBitCast(Int(number), to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.some(Int(number)), to: D.self) }
        case .text(let text):
            if D.self == String.self { return unsafeBitCast(text, to: D.self) }
            if D.self == String?.self { return unsafeBitCast(String?.some(text), to: D.self) }
        case .null:
            if D.self == Int64?.self { return unsafeBitCast(Int64?.none, to: D.self) }
            if D.self == Int?.self { return unsafeBitCast(Int?.none, to: D.self) }
            if D.self == String?.self { return unsafeBitCast(String?.none, to: D.self) }
        default:
            break
        }
        return nil
    }
}

/// What SQLite said when a call failed: its extended result code and message.
public struct SQLiteFailure: Error, CustomStringConvertible {
    /// The extended result code (`SQLITE_CONSTRAINT_UNIQUE`, `SQLITE_BUSY`, …).
    public let code: Int32
    public let message: String

    public var description: String { "SQLite error \(code): \(message)" }

    /// A unique index or primary key refused the row.
    public var isUniqueViolation: Bool {
        // SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY, which Swift does not import.
        code == SQLITE_CONSTRAINT | (8 << 8) || code == SQLITE_CONSTRAINT | (6 << 8)
    }

    static func message(of raw: OpaquePointer) -> String {
        sqlite_nio_sqlite3_errmsg(raw).map { String(cString: $0) } ?? "unknown error"
    }
}

/// SQLKit's view of one ``SQLiteHandle``: queries are serialised by SQLKit, their values
/// encoded by SQLiteKit's encoder, and run on the calling thread.
struct SQLiteSession: SQLDatabase {
    let handle: SQLiteHandle
    let logger: Logger
    let eventLoop: any EventLoop

    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { .trace }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        do {
            try run(query, onRow)
            return eventLoop.makeSucceededVoidFuture()
        } catch {
            return eventLoop.makeFailedFuture(error)
        }
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        try run(query, onRow)
    }

    private func run(_ query: any SQLExpression, _ onRow: (any SQLRow) -> Void) throws {
        let (sql, binds) = serialize(query)
        if logger.logLevel <= .trace { logger.trace("\(sql)") }
        let encoder = SQLiteDataEncoder()
        let values = try binds.map { try Self.sqliteData($0, encoder) }
        try handle.run(sql, values, onRow)
    }

    /// The common bind types straight to their values, the rest through SQLiteKit's encoder,
    /// with the same result: the encoder looks up a protocol conformance for every bind,
    /// about 1% of a checkout's CPU.
    static func sqliteData(_ bind: any Encodable & Sendable, _ encoder: SQLiteDataEncoder) throws -> SQLiteData {
        switch bind {
        case let value as String: .text(value)
        case let value as Int64: .integer(Int(value))
        case let value as Int: .integer(value)
        default: try encoder.encode(bind)
        }
    }
}
