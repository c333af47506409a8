import Platform
import SQLKit

/// The Products service's schema, oldest first. Released migrations are never edited.
enum ProductMigrations {
    static let all: [Migration] = [
        Migration(1, "products and their stock") { sql in
            try await sql.raw(
                """
                CREATE TABLE products (
                    id \(unsafeRaw: sql.identityColumn),
                    sku TEXT NOT NULL,
                    name TEXT NOT NULL,
                    price_amount BIGINT NOT NULL,
                    currency TEXT NOT NULL,
                    status TEXT NOT NULL,
                    low_stock_threshold INTEGER NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX products_sku_key ON products (sku)").run()
            // The database refuses to oversell even if code is wrong: reserved stock never
            // exceeds what is on hand, and neither goes negative.
            try await sql.raw(
                """
                CREATE TABLE inventory (
                    product_id BIGINT PRIMARY KEY,
                    on_hand INTEGER NOT NULL,
                    reserved INTEGER NOT NULL,
                    CHECK (reserved >= 0 AND on_hand >= reserved)
                )
                """
            ).run()
            try await sql.raw(
                """
                CREATE TABLE reservations (
                    id TEXT PRIMARY KEY,
                    state TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX reservations_held_expiry_idx ON reservations (expires_at) WHERE state = 'held'").run()
            try await sql.raw(
                """
                CREATE TABLE reservation_lines (
                    reservation_id TEXT NOT NULL,
                    product_id BIGINT NOT NULL,
                    quantity INTEGER NOT NULL,
                    PRIMARY KEY (reservation_id, product_id)
                )
                """
            ).run()
            // Every movement of stock, so the counts can always be explained and rebuilt.
            try await sql.raw(
                """
                CREATE TABLE inventory_ledger (
                    id \(unsafeRaw: sql.identityColumn),
                    product_id BIGINT NOT NULL,
                    on_hand_change INTEGER NOT NULL,
                    reserved_change INTEGER NOT NULL,
                    reason TEXT NOT NULL,
                    reference TEXT,
                    created_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE INDEX inventory_ledger_product_idx ON inventory_ledger (product_id, id)").run()
        },
        Outbox.migration(2),
        Migration(3, "product descriptions, versions and list indexes") { sql in
            try await sql.raw("ALTER TABLE products ADD COLUMN description TEXT NOT NULL DEFAULT ''").run()
            try await sql.raw("ALTER TABLE products ADD COLUMN version INTEGER NOT NULL DEFAULT 1").run()
            try await sql.raw("CREATE INDEX products_status_created_idx ON products (status, created_at, id)").run()
            try await sql.raw("CREATE INDEX products_status_price_idx ON products (status, price_amount, id)").run()
        },
        CategoryStore.migration(4),
        Migration(5, "full-text search of product names and descriptions") { sql in
            if sql.dialect.name == "sqlite" {
                // FTS5 over the products table, kept in step by triggers.
                try await sql.raw(
                    "CREATE VIRTUAL TABLE products_fts USING fts5(name, description, content='products', content_rowid='id')"
                ).run()
                try await sql.raw(
                    """
                    CREATE TRIGGER products_fts_insert AFTER INSERT ON products BEGIN
                        INSERT INTO products_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
                    END
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TRIGGER products_fts_update AFTER UPDATE OF name, description ON products BEGIN
                        INSERT INTO products_fts (products_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description);
                        INSERT INTO products_fts (rowid, name, description) VALUES (new.id, new.name, new.description);
                    END
                    """
                ).run()
                try await sql.raw(
                    """
                    CREATE TRIGGER products_fts_delete AFTER DELETE ON products BEGIN
                        INSERT INTO products_fts (products_fts, rowid, name, description) VALUES ('delete', old.id, old.name, old.description);
                    END
                    """
                ).run()
                try await sql.raw("INSERT INTO products_fts (rowid, name, description) SELECT id, name, description FROM products").run()
            } else {
                try await sql.raw(
                    "CREATE INDEX products_search_idx ON products USING GIN (to_tsvector('simple', name || ' ' || description))"
                ).run()
            }
        },
        Migration(6, "product slugs and attributes") { sql in
            try await sql.raw("ALTER TABLE products ADD COLUMN slug TEXT").run()
            try await sql.raw("UPDATE products SET slug = 'product-' || CAST(id AS TEXT) WHERE slug IS NULL").run()
            try await sql.raw("CREATE UNIQUE INDEX products_slug_key ON products (slug)").run()
            try await sql.raw("ALTER TABLE products ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}'").run()
        },
        ImageStore.migration(7),
        IdempotencyStore.migration(8),
        Migration(9, "a stored search vector on PostgreSQL") { sql in
            // A stored column, not an expression index alone: the filter reads the vector
            // instead of computing it for every row it looks at, and ANALYZE keeps word
            // statistics, so a rare word starts from the GIN index and a common one walks
            // the sort index. SQLite searches through FTS5 (migration 5).
            guard sql.dialect.name != "sqlite" else { return }
            try await sql.raw(
                """
                ALTER TABLE products ADD COLUMN search_vector tsvector
                    GENERATED ALWAYS AS (to_tsvector('simple', name || ' ' || description)) STORED
                """
            ).run()
            try await sql.raw("CREATE INDEX products_search_vector_idx ON products USING GIN (search_vector)").run()
            try await sql.raw("DROP INDEX products_search_idx").run()
        },
        // What catalog reads show, counted by the database whoever writes it: the read cache
        // catches up with the count (`CatalogCache.catchUp`), so a change whose invalidation
        // never reached Redis is still seen.
        CatalogCache.changeCount.migration(
            10,
            "a count of catalog changes kept by the database",
            tables: ["products", "categories", "product_images"]
        ),
    ]
}
