import Platform
import SQLKit

/// The Notifications service's schema, oldest first. Released migrations are never edited.
enum NotificationMigrations {
    static let all: [Migration] = [
        Outbox.migration(1),
        Migration(2, "recipients and order contacts copied from events") { sql in
            try await sql.raw(
                """
                CREATE TABLE recipients (
                    user_id BIGINT PRIMARY KEY,
                    email TEXT NOT NULL,
                    name TEXT NOT NULL,
                    locale TEXT NOT NULL,
                    order_emails BOOLEAN NOT NULL,
                    marketing_emails BOOLEAN NOT NULL,
                    sms BOOLEAN NOT NULL,
                    push BOOLEAN NOT NULL,
                    preferences_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
            // Where a payment's failure is written to: the order's address, from order.created.
            try await sql.raw(
                """
                CREATE TABLE order_contacts (
                    order_id TEXT PRIMARY KEY,
                    customer_id BIGINT,
                    email TEXT NOT NULL,
                    locale TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX order_contacts_created_idx ON order_contacts (created_at)").run()
            try await sql.raw("CREATE INDEX order_contacts_customer_idx ON order_contacts (customer_id)").run()
        },
        Migration(3, "notifications, one per event, channel and target, with their attempts") { sql in
            try await sql.raw(
                """
                CREATE TABLE notifications (
                    seq \(unsafeRaw: sql.identityColumn),
                    id TEXT NOT NULL UNIQUE,
                    event_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    channel TEXT NOT NULL,
                    target TEXT NOT NULL,
                    user_id BIGINT,
                    order_id TEXT,
                    locale TEXT NOT NULL,
                    data TEXT NOT NULL,
                    subject TEXT,
                    status TEXT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    round_start INTEGER NOT NULL DEFAULT 0,
                    next_attempt_at BIGINT NOT NULL,
                    lease_until BIGINT NOT NULL DEFAULT 0,
                    last_error TEXT,
                    provider_answer TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    sent_at BIGINT,
                    UNIQUE (event_id, channel, target)
                )
                """
            ).run()
            // The dispatcher's queues: what is due, and what a crashed sender left mid-send.
            try await sql.raw("CREATE INDEX notifications_due_idx ON notifications (next_attempt_at) WHERE status IN ('queued', 'retrying')")
                .run()
            try await sql.raw("CREATE INDEX notifications_sending_idx ON notifications (lease_until) WHERE status = 'sending'").run()
            try await sql.raw("CREATE INDEX notifications_user_idx ON notifications (user_id, seq)").run()
            try await sql.raw("CREATE INDEX notifications_target_idx ON notifications (target, seq)").run()
            try await sql.raw("CREATE INDEX notifications_status_idx ON notifications (status, seq)").run()
            try await sql.raw(
                """
                CREATE TABLE notification_attempts (
                    notification_id TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    started_at BIGINT NOT NULL,
                    duration_ms BIGINT NOT NULL,
                    outcome TEXT NOT NULL,
                    detail TEXT NOT NULL,
                    PRIMARY KEY (notification_id, attempt)
                )
                """
            ).run()
        },
        Migration(4, "outbound webhook endpoints") { sql in
            try await sql.raw(
                """
                CREATE TABLE webhook_endpoints (
                    seq \(unsafeRaw: sql.identityColumn),
                    id TEXT NOT NULL UNIQUE,
                    url TEXT NOT NULL,
                    description TEXT NOT NULL,
                    event_types TEXT NOT NULL,
                    secret TEXT NOT NULL,
                    enabled BOOLEAN NOT NULL,
                    disabled_reason TEXT,
                    failing_since BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
        },
        IdempotencyStore.migration(5),
        Migration(6, "phone numbers with their verification, and push devices") { sql in
            // One number per user; `nonce` makes the pending code (see VerificationCode).
            try await sql.raw(
                """
                CREATE TABLE phone_numbers (
                    user_id BIGINT PRIMARY KEY,
                    phone_number TEXT NOT NULL,
                    verified_at BIGINT,
                    nonce TEXT,
                    code_expires_at BIGINT,
                    code_attempts INTEGER NOT NULL DEFAULT 0,
                    codes_sent INTEGER NOT NULL DEFAULT 0,
                    codes_window_start BIGINT NOT NULL,
                    stopped_at BIGINT,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw(
                """
                CREATE TABLE devices (
                    seq \(unsafeRaw: sql.identityColumn),
                    id TEXT NOT NULL UNIQUE,
                    user_id BIGINT NOT NULL,
                    token TEXT NOT NULL UNIQUE,
                    platform TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX devices_user_idx ON devices (user_id, last_seen_at)").run()
        },
        Migration(7, "codes sent to each number, and users forgotten") { sql in
            // Codes sent to a number in its window, whoever asked: a number is not flooded
            // from many accounts.
            try await sql.raw(
                "CREATE TABLE phone_code_sends (phone_number TEXT PRIMARY KEY, window_start BIGINT NOT NULL, sent INTEGER NOT NULL)"
            ).run()
            // A deleted user's id, so that no number or device is kept for it afterwards.
            try await sql.raw("CREATE TABLE forgotten_users (user_id BIGINT PRIMARY KEY, forgotten_at BIGINT NOT NULL)").run()
        },
    ]
}
