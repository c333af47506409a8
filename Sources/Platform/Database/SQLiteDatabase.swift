public import Logging
import NIOPosix
import SQLKit
import Synchronization

/// The embedded database: one SQLite file in WAL mode, one writer connection that
/// serialises transactions, and a few reader connections that never wait for it.
///
/// Statements run on the calling thread through ``SQLiteHandle``, compiled once per
/// connection.
///
/// **Group commit.** Transactions that queue for the writer while one runs share its
/// commit: each runs in a savepoint of one SQLite transaction, and whoever finds nobody
/// waiting behind it commits for all (at most ``groupLimit``). No caller returns before
/// the commit that holds its writes is durable, and one whose work fails is rolled back to
/// its savepoint alone. A failed commit fails every member of its group. Under load this
/// turns one `fsync` per transaction into one per group; alone, a transaction commits at
/// once, as before.
public final class SQLiteDatabase: Database {
    /// The most transactions that share one commit.
    static let groupLimit = 64

    public var kind: DatabaseKind { .sqlite }

    private let writer: SQLiteSession
    private let readers: [SQLiteSession]
    private let writeLock = AsyncLock()
    private let nextReader = Atomic<Int>(0)
    private let logger: Logger
    /// The group whose transaction is open on the writer, only touched with `writeLock` held.
    private let openGroup = Mutex<CommitGroup?>(nil)
    private let commitCount = Atomic<Int>(0)

    /// How many commits the writer made (for tests of group commit).
    var commits: Int { commitCount.load(ordering: .relaxed) }

    /// How many transactions wait for the writer now.
    var waitingTransactions: Int { writeLock.waiting }

    private init(writer: SQLiteSession, readers: [SQLiteSession], logger: Logger) {
        self.writer = writer
        self.readers = readers
        self.logger = logger
    }

    /// Opens (creating if needed) the database file at `path`.
    public static func open(path: String, readers: Int = 4, logger: Logger) async throws -> SQLiteDatabase {
        var opened: [SQLiteHandle] = []
        do {
            let writer = try openConnection(path: path, logger: logger, opened: &opened)
            // WAL lets readers run beside the writer; FULL sync makes each commit durable.
            try writer.run("PRAGMA journal_mode = WAL", [], { _ in })
            var readerHandles: [SQLiteHandle] = []
            for _ in 0..<max(1, readers) {
                readerHandles.append(try openConnection(path: path, logger: logger, opened: &opened))
            }
            let eventLoops = MultiThreadedEventLoopGroup.singleton
            return SQLiteDatabase(
                writer: SQLiteSession(handle: writer, logger: logger, eventLoop: eventLoops.any()),
                readers: readerHandles.map { SQLiteSession(handle: $0, logger: logger, eventLoop: eventLoops.any()) },
                logger: logger
            )
        } catch {
            for handle in opened { handle.close() }
            throw error
        }
    }

    private static func openConnection(path: String, logger: Logger, opened: inout [SQLiteHandle]) throws -> SQLiteHandle {
        let handle = try SQLiteHandle.open(path: path)
        opened.append(handle)
        // A wait for another process's lock, instead of failing at once.
        try handle.run("PRAGMA busy_timeout = 5000", [], { _ in })
        try handle.run("PRAGMA synchronous = FULL", [], { _ in })
        try handle.run("PRAGMA foreign_keys = ON", [], { _ in })
        // The undo record of each savepoint (every member of a group commit has one) stays
        // in memory: past 64 KiB SQLite would otherwise spill it into a new file in /var/tmp.
        try handle.run("PRAGMA temp_store = MEMORY", [], { _ in })
        // A checkpoint copies each page's latest version from the WAL into the file, once;
        // the busy pages (the ends of tables and indexes) are written many times between
        // two of them. Every 10,000 pages (40 MB) instead of 1,000 took a seventh of the
        // page writes off a checkout.
        try handle.run("PRAGMA wal_autocheckpoint = 10000", [], { _ in })
        return handle
    }

    public func read<Result: Sendable>(_ body: (any SQLDatabase) async throws -> Result) async throws -> Result {
        let index = nextReader.wrappingAdd(1, ordering: .relaxed).oldValue
        return try await body(readers[index % readers.count])
    }

    public func transaction<Value: Sendable>(_ body: (any SQLDatabase) async throws -> Value) async throws -> Value {
        let (outcome, group) = try await writeLock.withLock { () async throws -> (Result<Value, any Error>, CommitGroup) in
            let group = try joinGroup()
            let outcome = await runMember(of: group, body)
            // Nobody queued behind this one yet: let the tasks that are ready run first, and
            // whoever of them writes joins this group instead of paying a commit of its own.
            // (Under load a group grew from about one checkout to three this way, and the
            // disk flushes per checkout fell from 3.7 to 1.4.)
            if group.isOpen, group.members < Self.groupLimit, writeLock.waiting == 0 {
                await Task.yield()
            }
            if group.isOpen, group.members >= Self.groupLimit || writeLock.waiting == 0 {
                commit(group)
            }
            return (outcome, group)
        }
        // A member whose own work failed was rolled back alone and need not wait.
        let value = try outcome.get()
        try await group.committed()
        return value
    }

    /// The open group, or a new one with its transaction begun.
    private func joinGroup() throws -> CommitGroup {
        if let group = openGroup.withLock({ $0 }) { return group }
        try writer.handle.run("BEGIN IMMEDIATE", [], { _ in })
        let group = CommitGroup()
        openGroup.withLock { $0 = group }
        return group
    }

    /// Runs one transaction's work in a savepoint of the group's transaction.
    private func runMember<Value: Sendable>(
        of group: CommitGroup,
        _ body: (any SQLDatabase) async throws -> Value
    ) async -> Result<Value, any Error> {
        do {
            try writer.handle.run("SAVEPOINT member", [], { _ in })
        } catch {
            fail(group, error)
            return .failure(error)
        }
        group.members += 1
        do {
            let value = try await body(writer)
            try writer.handle.run("RELEASE member", [], { _ in })
            return .success(value)
        } catch {
            do {
                // Some failures (a full disk, an I/O error) end the whole transaction: then
                // the savepoint is gone and so is the group's work.
                guard writer.handle.isInTransaction else { throw error }
                try writer.handle.run("ROLLBACK TO member", [], { _ in })
                try writer.handle.run("RELEASE member", [], { _ in })
            } catch let rollbackError {
                logger.error("rollback failed", metadata: ["error": "\(rollbackError)"])
                fail(group, rollbackError)
            }
            return .failure(error)
        }
    }

    private func commit(_ group: CommitGroup) {
        do {
            try writer.handle.run("COMMIT", [], { _ in })
            commitCount.add(1, ordering: .relaxed)
            openGroup.withLock { $0 = nil }
            group.finish(.success(()))
        } catch {
            fail(group, error)
        }
    }

    /// Ends the group's transaction without its writes and tells every member.
    private func fail(_ group: CommitGroup, _ error: any Error) {
        if writer.handle.isInTransaction {
            do {
                try writer.handle.run("ROLLBACK", [], { _ in })
            } catch {
                logger.error("rollback failed", metadata: ["error": "\(error)"])
            }
        }
        openGroup.withLock { $0 = nil }
        group.finish(.failure(error))
    }

    public func close() async throws {
        try await writeLock.withLock {
            if let group = openGroup.withLock({ $0 }) { commit(group) }
            for reader in readers { reader.handle.close() }
            writer.handle.close()
        }
    }
}

/// Transactions that share one commit, and what became of it.
private final class CommitGroup: @unchecked Sendable {
    private struct State {
        var outcome: Result<Void, any Error>?
        var waiters: [CheckedContinuation<Void, any Error>] = []
    }

    private let state = Mutex(State())
    /// How many transactions joined; only touched with the writer's lock held.
    var members = 0

    var isOpen: Bool { state.withLock { $0.outcome == nil } }

    func finish(_ outcome: Result<Void, any Error>) {
        let waiters = state.withLock { state in
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }

    /// Returns once the group committed; throws what ended it otherwise.
    func committed() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state in
                if state.outcome == nil { state.waiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
