import Platform
import SQLKit

/// The Orders service's schema, oldest first. Released migrations are never edited.
enum OrderMigrations {
    static let all: [Migration] = [
        Migration(1, "carts and their lines") { sql in
            try await sql.raw(
                """
                CREATE TABLE carts (
                    id TEXT PRIMARY KEY,
                    customer_id BIGINT,
                    token_hash TEXT,
                    state TEXT NOT NULL,
                    merged_into TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
            // One open cart a customer: racing first reads of a cart make one.
            try await sql.raw("CREATE UNIQUE INDEX carts_open_customer_key ON carts (customer_id) WHERE state = 'open' AND customer_id IS NOT NULL")
                .run()
            try await sql.raw("CREATE INDEX carts_guest_idle_idx ON carts (updated_at) WHERE customer_id IS NULL").run()
            try await sql.raw(
                """
                CREATE TABLE cart_lines (
                    cart_id TEXT NOT NULL,
                    product_id BIGINT NOT NULL,
                    quantity INTEGER NOT NULL,
                    added_at BIGINT NOT NULL,
                    PRIMARY KEY (cart_id, product_id),
                    CHECK (quantity > 0 AND quantity <= 99)
                )
                """
            ).run()
        },
        Outbox.migration(2),
        IdempotencyStore.migration(3),
    ]
}
