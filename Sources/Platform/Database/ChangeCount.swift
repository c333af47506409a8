import Foundation
public import Redis
import SQLKit

/// A count of the changes to some tables that the database keeps itself: triggers move it
/// in every transaction that writes them, whoever writes (a service's request, one that
/// died after its commit, a maintenance command, an operator's SQL). What a process keeps
/// read from those tables can catch up with the count, so a change that never told the
/// keepers (its process gone, Redis down at that moment) is still noticed within one
/// catch-up (``ChangeCount/catchUp(_:value:seen:in:)``).
public struct ChangeCount: Sendable {
    /// The table that holds the count, in one row.
    public let table: String

    public init(table: String) {
        self.table = table
    }

    /// Makes the database count the changes of `tables`. On PostgreSQL the count moves when
    /// a transaction commits (a deferred trigger) and once per transaction: its row is the
    /// last lock a writer takes, so no writer waits for it while holding a lock that
    /// another, queued behind it, holds too.
    public func migration(_ version: Int, _ name: String, tables: [String]) -> Migration {
        let table = self.table
        return Migration(version, name) { sql in
            try await sql.raw("CREATE TABLE \(unsafeRaw: table) (id INTEGER PRIMARY KEY CHECK (id = 1), count BIGINT NOT NULL)").run()
            try await sql.raw("INSERT INTO \(unsafeRaw: table) (id, count) VALUES (1, 0)").run()
            if sql.dialect.name == "sqlite" {
                // One writer at a time: a trigger per change is all it takes.
                for changed in tables {
                    for event in ["INSERT", "UPDATE", "DELETE"] {
                        let trigger = """
                            CREATE TRIGGER \(changed)_counted_\(event.lowercased()) AFTER \(event) ON \(changed) BEGIN
                                UPDATE \(table) SET count = count + 1 WHERE id = 1;
                            END
                            """
                        try await sql.raw("\(unsafeRaw: trigger)").run()
                    }
                }
                return
            }
            try await sql.raw("ALTER TABLE \(unsafeRaw: table) ADD COLUMN counted_in BIGINT").run()
            let function = """
                CREATE FUNCTION \(table)_move() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    UPDATE \(table) SET count = count + 1, counted_in = txid_current()
                        WHERE id = 1 AND counted_in IS DISTINCT FROM txid_current();
                    RETURN NULL;
                END
                $$
                """
            try await sql.raw("\(unsafeRaw: function)").run()
            for changed in tables {
                let trigger = """
                    CREATE CONSTRAINT TRIGGER \(changed)_counted AFTER INSERT OR UPDATE OR DELETE ON \(changed)
                        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION \(table)_move()
                    """
                try await sql.raw("\(unsafeRaw: trigger)").run()
            }
        }
    }

    /// The count now: every change that committed before this read is in it.
    public func current(in database: any Database) async throws -> Int64 {
        let query: SQLQueryString = "SELECT count FROM \(unsafeRaw: table) WHERE id = 1"
        let row = try await database.read { sql in try await sql.raw(query).first() }
        return try row?.decode(column: "count", as: Int64.self) ?? 0
    }

    /// Moves `value` (a number keepers compare, such as a cache's generation) on by one
    /// unless it was already moved for `count` or a later one (kept under `seen`). When
    /// Redis has no `seen`, it lost its keys (a restart, a flush) while keepers may still
    /// hold what they read under earlier values of `value`: it then starts past the time in
    /// milliseconds, above all of those unless there was more than one change a
    /// millisecond since the last loss. Answers whether it moved.
    @discardableResult
    public static func catchUp(_ count: Int64, value: String, seen: String, in redis: RedisClient) async throws -> Bool {
        let milliseconds = Date().millisecondsSince1970
        let reply = try await redis.evaluate(
            catchUpScript,
            keys: [value, seen],
            arguments: [RESPArgument(String(count)), RESPArgument(String(milliseconds))]
        )
        return reply.int == 1
    }

    /// Moves `value` on by one for a change its writer counts itself. As in
    /// ``catchUp(_:value:seen:in:)``, when Redis has no `seen` it lost its keys, and
    /// `value` starts past the time in milliseconds instead of counting up from nothing
    /// towards values keepers may still hold.
    public static func increment(value: String, seen: String, in redis: RedisClient) async throws {
        let milliseconds = Date().millisecondsSince1970
        _ = try await redis.evaluate(incrementScript, keys: [value, seen], arguments: [RESPArgument(String(milliseconds))])
    }

    static let incrementScript = RedisScript(
        """
        if redis.call('EXISTS', KEYS[2]) == 1 then return redis.call('INCR', KEYS[1]) end
        local value = math.max(tonumber(redis.call('GET', KEYS[1]) or '0'), tonumber(ARGV[1])) + 1
        redis.call('SET', KEYS[1], string.format('%d', value))
        return value
        """
    )

    static let catchUpScript = RedisScript(
        """
        local seen = redis.call('GET', KEYS[2])
        if seen and tonumber(seen) >= tonumber(ARGV[1]) then return 0 end
        local value = tonumber(redis.call('GET', KEYS[1]) or '0')
        if not seen then value = math.max(value, tonumber(ARGV[2])) end
        redis.call('SET', KEYS[1], string.format('%d', value + 1))
        redis.call('SET', KEYS[2], ARGV[1])
        return 1
        """
    )
}
