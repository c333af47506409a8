import Platform
import SQLKit

/// The Users service's schema, oldest first. Released migrations are never edited.
enum UserMigrations {
    static let all: [Migration] = [
        Migration(1, "create users") { sql in
            // Deleted users stay as tombstones without personal data, so an id is never
            // reused and references held by other services stay meaningful.
            try await sql.raw(
                """
                CREATE TABLE users (
                    id \(unsafeRaw: sql.identityColumn),
                    email TEXT,
                    email_normalized TEXT,
                    name TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    deleted_at BIGINT
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX users_email_normalized_key ON users (email_normalized)").run()
            try await sql.raw(
                "CREATE INDEX users_created_at_id_idx ON users (created_at, id) WHERE deleted_at IS NULL"
            ).run()
        },
        IdempotencyStore.migration(2),
    ]
}
