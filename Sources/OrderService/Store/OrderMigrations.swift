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
        Migration(4, "orders, their lines and history; a cart's checkout in progress") { sql in
            // A cart being checked out names its order: its lines cannot change meanwhile,
            // and a second checkout of it is refused.
            try await sql.raw("ALTER TABLE carts ADD COLUMN order_id TEXT").run()
            // The database refuses books that do not add up even if code is wrong.
            try await sql.raw(
                """
                CREATE TABLE orders (
                    seq \(unsafeRaw: sql.identityColumn),
                    id TEXT NOT NULL UNIQUE,
                    status TEXT NOT NULL,
                    step TEXT NOT NULL,
                    outcome TEXT,
                    customer_id BIGINT,
                    cart_id TEXT NOT NULL,
                    email TEXT NOT NULL,
                    locale TEXT NOT NULL,
                    currency TEXT NOT NULL,
                    subtotal BIGINT NOT NULL,
                    total BIGINT NOT NULL,
                    amount_refunded BIGINT NOT NULL DEFAULT 0,
                    item_count INTEGER NOT NULL,
                    shipping_address TEXT NOT NULL,
                    payment_id TEXT,
                    failure_code TEXT,
                    failure_message TEXT,
                    next_action_url TEXT,
                    short_lines TEXT,
                    tracking_number TEXT,
                    carrier TEXT,
                    stock_committed INTEGER NOT NULL DEFAULT 0,
                    step_reason TEXT,
                    lease_until BIGINT NOT NULL,
                    attempts INTEGER NOT NULL DEFAULT 0,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    CHECK (total >= 0 AND amount_refunded >= 0 AND amount_refunded <= total)
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX orders_customer_idx ON orders (customer_id, seq)").run()
            try await sql.raw("CREATE INDEX orders_status_idx ON orders (status, seq)").run()
            try await sql.raw("CREATE INDEX orders_created_idx ON orders (created_at)").run()
            // The recovery worker's queue: only orders with a step left.
            try await sql.raw("CREATE INDEX orders_due_idx ON orders (lease_until) WHERE step <> 'done'").run()
            try await sql.raw(
                """
                CREATE TABLE order_lines (
                    order_id TEXT NOT NULL,
                    position INTEGER NOT NULL,
                    product_id BIGINT NOT NULL,
                    sku TEXT NOT NULL,
                    name TEXT NOT NULL,
                    quantity INTEGER NOT NULL,
                    unit_price BIGINT NOT NULL,
                    line_total BIGINT NOT NULL,
                    PRIMARY KEY (order_id, position),
                    CHECK (quantity > 0 AND unit_price >= 0 AND line_total = unit_price * quantity)
                )
                """
            ).run()
            try await sql.raw(
                """
                CREATE TABLE order_history (
                    seq \(unsafeRaw: sql.identityColumn),
                    order_id TEXT NOT NULL,
                    from_status TEXT,
                    to_status TEXT NOT NULL,
                    actor_id BIGINT,
                    reason TEXT NOT NULL,
                    request_id TEXT,
                    at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX order_history_order_idx ON order_history (order_id, seq)").run()
        },
        Migration(5, "sales reports and their queue") { sql in
            try await sql.raw(
                """
                CREATE TABLE reports (
                    id TEXT PRIMARY KEY,
                    status TEXT NOT NULL,
                    from_day BIGINT NOT NULL,
                    to_day BIGINT NOT NULL,
                    requested_by BIGINT NOT NULL,
                    orders INTEGER,
                    error TEXT,
                    attempts INTEGER NOT NULL,
                    lease_until BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    completed_at BIGINT
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX reports_queue_idx ON reports (created_at) WHERE status IN ('queued', 'running')").run()
        },
        Migration(6, "the checkout request an order was placed by") { sql in
            // The caller, Idempotency-Key and body fingerprint of the checkout: a retry finds
            // the order its first attempt placed, whatever became of that attempt's claim.
            try await sql.raw("ALTER TABLE orders ADD COLUMN request_scope TEXT").run()
            try await sql.raw("ALTER TABLE orders ADD COLUMN request_key TEXT").run()
            try await sql.raw("ALTER TABLE orders ADD COLUMN request_fingerprint TEXT").run()
            try await sql.raw("CREATE UNIQUE INDEX orders_request_key ON orders (request_scope, request_key)").run()
        },
    ]
}
