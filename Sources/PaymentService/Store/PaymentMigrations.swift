import Platform
import SQLKit

/// The Payments service's schema, oldest first. Released migrations are never edited.
enum PaymentMigrations {
    static let all: [Migration] = [
        Migration(1, "payments, attempts, refunds, history and the ledger") { sql in
            // The database refuses books that do not add up even if code is wrong: never
            // more refunded (or being refunded) than captured, never more captured than the amount.
            try await sql.raw(
                """
                CREATE TABLE payments (
                    seq \(unsafeRaw: sql.identityColumn),
                    id TEXT NOT NULL,
                    order_id TEXT NOT NULL,
                    customer_id BIGINT,
                    status TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    capture_method TEXT NOT NULL,
                    amount_authorized BIGINT NOT NULL DEFAULT 0,
                    amount_capturable BIGINT NOT NULL DEFAULT 0,
                    amount_captured BIGINT NOT NULL DEFAULT 0,
                    amount_voided BIGINT NOT NULL DEFAULT 0,
                    amount_refunded BIGINT NOT NULL DEFAULT 0,
                    refund_pending BIGINT NOT NULL DEFAULT 0,
                    provider TEXT NOT NULL,
                    provider_reference TEXT,
                    attempt INTEGER NOT NULL,
                    pending_action TEXT,
                    pending_amount BIGINT,
                    card_brand TEXT,
                    card_last4 TEXT,
                    card_exp_month INTEGER,
                    card_exp_year INTEGER,
                    failure_code TEXT,
                    failure_message TEXT,
                    next_action_url TEXT,
                    authorization_expires_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    CHECK (amount > 0 AND amount_captured <= amount AND amount_capturable >= 0),
                    CHECK (refund_pending >= 0 AND amount_refunded >= 0 AND amount_refunded + refund_pending <= amount_captured)
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX payments_id_key ON payments (id)").run()
            // One order, one payment, ever.
            try await sql.raw("CREATE UNIQUE INDEX payments_order_key ON payments (order_id)").run()
            try await sql.raw("CREATE INDEX payments_customer_idx ON payments (customer_id, seq)").run()
            try await sql.raw("CREATE INDEX payments_status_idx ON payments (status, updated_at)").run()
            try await sql.raw("CREATE INDEX payments_reference_idx ON payments (provider_reference)").run()
            try await sql.raw(
                """
                CREATE TABLE payment_attempts (
                    payment_id TEXT NOT NULL,
                    attempt INTEGER NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    fingerprint TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (payment_id, attempt)
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX payment_attempts_key ON payment_attempts (payment_id, idempotency_key)").run()
            try await sql.raw(
                """
                CREATE TABLE payment_refunds (
                    seq \(unsafeRaw: sql.identityColumn),
                    id TEXT NOT NULL,
                    payment_id TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    reason TEXT NOT NULL,
                    status TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    provider_reference TEXT,
                    failure TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    CHECK (amount > 0)
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX payment_refunds_id_key ON payment_refunds (id)").run()
            try await sql.raw("CREATE UNIQUE INDEX payment_refunds_request_key ON payment_refunds (payment_id, idempotency_key)").run()
            try await sql.raw("CREATE INDEX payment_refunds_pending_idx ON payment_refunds (status, updated_at)").run()
            try await sql.raw(
                """
                CREATE TABLE payment_transitions (
                    id \(unsafeRaw: sql.identityColumn),
                    payment_id TEXT NOT NULL,
                    from_status TEXT,
                    to_status TEXT NOT NULL,
                    cause TEXT NOT NULL,
                    request_id TEXT,
                    at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX payment_transitions_payment_idx ON payment_transitions (payment_id, id)").run()
            // Every movement of money: authorization, capture, void, refund.
            try await sql.raw(
                """
                CREATE TABLE payment_ledger (
                    id \(unsafeRaw: sql.identityColumn),
                    payment_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    amount BIGINT NOT NULL,
                    reference TEXT,
                    at BIGINT NOT NULL,
                    CHECK (amount > 0)
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX payment_ledger_payment_idx ON payment_ledger (payment_id)").run()
        },
        Outbox.migration(2),
        IdempotencyStore.migration(3),
        TestNetwork.migration(4),
    ]
}
