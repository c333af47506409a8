import Foundation
import SQLKit

/// Remembers the first response to each `Idempotency-Key`, in the service's own database.
///
/// A key is claimed before the work runs (so a concurrent retry cannot run it twice) and
/// completed with the response afterwards; a claim whose work failed with a 5xx is
/// released so the client can try again.
public struct IdempotencyStore: Sendable {
    let database: any Database
    /// How long a completed response is replayed.
    let retention: Duration
    /// A claim older than this whose work never completed (the process died) may be
    /// taken over by a retry.
    let abandonedAfter: Duration

    public init(database: any Database, retention: Duration = .seconds(24 * 3600), abandonedAfter: Duration = .seconds(60)) {
        self.database = database
        self.retention = retention
        self.abandonedAfter = abandonedAfter
    }

    /// The table, for a service's migrations (version numbers are the service's own).
    public static func migration(_ version: Int) -> Migration {
        Migration(version, "create idempotency keys") { sql in
            let bytes = sql.dialect.name == "sqlite" ? "BLOB" : "BYTEA"
            try await sql.raw(
                """
                CREATE TABLE idempotency_keys (
                    scope TEXT NOT NULL,
                    key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    status INTEGER,
                    headers TEXT,
                    body \(unsafeRaw: bytes),
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (scope, key)
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX idempotency_keys_created_at_idx ON idempotency_keys (created_at)").run()
        }
    }

    /// A stored response.
    public struct StoredResponse: Sendable, Hashable {
        public var status: Int
        public var headers: [String: String]
        public var body: [UInt8]

        public init(status: Int, headers: [String: String], body: [UInt8]) {
            self.status = status
            self.headers = headers
            self.body = body
        }
    }

    /// What a claim found.
    public enum Claim: Sendable, Hashable {
        /// The caller owns the key now and must complete or release it.
        case claimed
        /// The same request already completed: replay this.
        case completed(StoredResponse)
        /// The same request is still running elsewhere.
        case inProgress
        /// The key was used with a different request.
        case mismatch
    }

    public func claim(scope: String, key: String, fingerprint: String, now: Date) async throws -> Claim {
        let nowMicros = now.microsecondsSince1970
        let expiredBefore = nowMicros - Self.microseconds(retention)
        let abandonedBefore = nowMicros - Self.microseconds(abandonedAfter)
        return try await database.transaction { sql in
            // An expired record, or a claim whose owner died, no longer holds the key.
            try await sql.raw(
                """
                DELETE FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key)
                AND (created_at < \(bind: expiredBefore) OR (status IS NULL AND created_at < \(bind: abandonedBefore)))
                """
            ).run()
            let inserted = try await sql.raw(
                """
                INSERT INTO idempotency_keys (scope, key, fingerprint, created_at)
                VALUES (\(bind: scope), \(bind: key), \(bind: fingerprint), \(bind: nowMicros))
                ON CONFLICT (scope, key) DO NOTHING
                RETURNING key
                """
            ).first()
            if inserted != nil { return .claimed }
            guard
                let row = try await sql.raw(
                    "SELECT fingerprint, status, headers, body FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key)"
                ).first()
            else { return .inProgress }
            guard try row.decode(column: "fingerprint", as: String.self) == fingerprint else { return .mismatch }
            guard let status = try row.decode(column: "status", as: Int?.self) else { return .inProgress }
            let headerText = try row.decode(column: "headers", as: String?.self) ?? "{}"
            let headers = (try? JSONDecoder().decode([String: String].self, from: Data(headerText.utf8))) ?? [:]
            let body = try row.decode(column: "body", as: Data?.self) ?? Data()
            return .completed(StoredResponse(status: status, headers: headers, body: Array(body)))
        }
    }

    public func complete(scope: String, key: String, with response: StoredResponse) async throws {
        let headers = String(decoding: try JSONEncoder().encode(response.headers), as: UTF8.self)
        try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE idempotency_keys SET status = \(bind: response.status), headers = \(bind: headers), body = \(bind: Data(response.body))
                WHERE scope = \(bind: scope) AND key = \(bind: key)
                """
            ).run()
        }
    }

    public func release(scope: String, key: String) async throws {
        try await database.transaction { sql in
            try await sql.raw("DELETE FROM idempotency_keys WHERE scope = \(bind: scope) AND key = \(bind: key) AND status IS NULL").run()
        }
    }

    /// Deletes records past their retention; returns how many.
    @discardableResult
    public func purge(now: Date) async throws -> Int {
        let before = now.microsecondsSince1970 - Self.microseconds(retention)
        return try await database.transaction { sql in
            try await sql.raw("DELETE FROM idempotency_keys WHERE created_at < \(bind: before) RETURNING key").all().count
        }
    }

    private static func microseconds(_ duration: Duration) -> Int64 {
        duration.components.seconds * 1_000_000 + duration.components.attoseconds / 1_000_000_000_000
    }
}
