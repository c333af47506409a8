import Foundation
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
        Migration(3, "accounts: passwords, roles, preferences, refresh tokens") { sql in
            try await sql.raw("ALTER TABLE users ADD COLUMN password_hash TEXT").run()
            try await sql.raw("ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'customer'").run()
            try await sql.raw(
                """
                CREATE TABLE user_preferences (
                    user_id BIGINT PRIMARY KEY,
                    marketing_emails BOOLEAN NOT NULL,
                    order_emails BOOLEAN NOT NULL,
                    sms BOOLEAN NOT NULL,
                    push BOOLEAN NOT NULL,
                    locale TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
            // One row per refresh token ever issued; a family is one login's chain of
            // rotations, revoked together when a used token comes back.
            try await sql.raw(
                """
                CREATE TABLE refresh_tokens (
                    id \(unsafeRaw: sql.identityColumn),
                    token_hash TEXT NOT NULL,
                    family TEXT NOT NULL,
                    user_id BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT,
                    revoked_at BIGINT
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX refresh_tokens_token_hash_key ON refresh_tokens (token_hash)").run()
            try await sql.raw("CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family)").run()
            try await sql.raw("CREATE INDEX refresh_tokens_user_id_idx ON refresh_tokens (user_id)").run()
            try await sql.raw("CREATE INDEX refresh_tokens_expires_at_idx ON refresh_tokens (expires_at)").run()
        },
        Outbox.migration(4),
        AuditLog.migration(5),
        Migration(6, "refresh token families end; audit entries name who acted") { sql in
            try await sql.raw("ALTER TABLE refresh_tokens ADD COLUMN family_expires_at BIGINT").run()
            // Sessions started before this migration end 90 days after it.
            let cutoff = Date().addingTimeInterval(TimeInterval(RefreshToken.familyLifetime.components.seconds)).microsecondsSince1970
            try await sql.raw("UPDATE refresh_tokens SET family_expires_at = \(bind: cutoff)").run()
            try await sql.raw("ALTER TABLE audit_log ADD COLUMN actor_id BIGINT").run()
        },
        // Users counted by the database whoever writes them: the shared count of writes
        // catches up with it, so a write whose own count never moved still ends what
        // instances keep (see `UserJobs`).
        UserStore.changeCount.migration(7, "a count of user changes kept by the database", tables: ["users"]),
    ]
}
