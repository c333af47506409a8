import Foundation
import Platform
import SQLKit
import TestSupport
import Testing

@testable import ProductService

/// Every documented filter and sort of the product list is served by an index on
/// PostgreSQL, with 100,000 products in the table (the planner picks sequential scans on
/// small tables, so the size matters).
@Suite(.enabled(if: TestDatabases.postgresAvailable)) struct QueryPlanTests {
    @Test func theListQueriesUseIndexesOnAHundredThousandProducts() async throws {
        try await TestDatabases.with(.postgres) { (database: any Database) async throws in
            try await Migrator(ProductService.migrations, logger: TestDatabases.logger).migrate(database)
            let categories = CategoryStore(database: database)
            let root = try await categories.create(slug: try Slug("home"), name: "Home", parentID: nil, at: Date())
            let leaf = try await categories.create(slug: try Slug("kitchen"), name: "Kitchen", parentID: root.id, at: Date())
            let other = try await categories.create(slug: try Slug("garden"), name: "Garden", parentID: nil, at: Date())
            try await database.transaction { sql in
                // 100,000 products: 90% active, spread over 200 categories' worth of ids,
                // prices and times; a few in the test's categories.
                for id in 4...200 {
                    try await sql.raw(
                        "INSERT INTO categories (slug, name, path, created_at) VALUES (\(bind: "c\(id)"), 'C', \(bind: "/\(id)/"), 0)"
                    ).run()
                }
                try await sql.raw(
                    """
                    INSERT INTO products (sku, name, description, price_amount, currency, status, category_id, low_stock_threshold, created_at, updated_at)
                    SELECT 'SKU-' || n, 'Product ' || n || CASE WHEN n % 1000 = 0 THEN ' linen' ELSE '' END, 'Description ' || n,
                        (n * 7919) % 100000, 'EUR', CASE WHEN n % 10 = 0 THEN 'draft' ELSE 'active' END,
                        CASE WHEN n % 500 = 0 THEN \(bind: leaf.id) WHEN n % 500 = 1 THEN \(bind: other.id) ELSE 4 + n % 197 END,
                        5, n * 1000, n * 1000
                    FROM generate_series(1, 100000) AS n
                    """
                ).run()
                try await sql.raw("INSERT INTO inventory (product_id, on_hand, reserved) SELECT id, 10, 0 FROM products").run()
            }
            try await database.read { sql in
                try await sql.raw("ANALYZE products").run()
                try await sql.raw("ANALYZE inventory").run()
                try await sql.raw("ANALYZE categories").run()
            }
            let catalog = CatalogStore(database: database)
            // Sorted lists walk the (status, sort column, id) index and stop after a page.
            // A narrow list (a category subtree with no active product, a word in 100
            // drafts) starts from the category's or the full-text index; a word in every
            // product walks the sort index: an index either way, never the table.
            let plans: [(String, String, String)] = [
                (
                    "newest first", try await catalog.explainFirstPage(sort: SortOrder(.createdAt, descending: true), statuses: [.active]),
                    "products_status_created_idx"
                ),
                ("cheapest first", try await catalog.explainFirstPage(sort: SortOrder(.price), statuses: [.active]), "products_status_price_idx"),
                (
                    "price range", try await catalog.explainFirstPage(sort: SortOrder(.price), statuses: [.active], minPrice: 100, maxPrice: 200),
                    "products_status_price_idx"
                ),
                (
                    "drafts for staff", try await catalog.explainFirstPage(sort: SortOrder(.createdAt, descending: true), statuses: [.draft]),
                    "products_status_created_idx"
                ),
                (
                    "a category subtree",
                    try await catalog.explainFirstPage(sort: SortOrder(.createdAt, descending: true), statuses: [.active], category: root.id),
                    "products_category_idx"
                ),
                (
                    "a rare word", try await catalog.explainFirstPage(sort: SortOrder(.price), statuses: [.active], search: try SearchQuery("linen")),
                    "products_search_vector_idx"
                ),
                (
                    "a common word",
                    try await catalog.explainFirstPage(sort: SortOrder(.price), statuses: [.active], search: try SearchQuery("product")),
                    "products_status_price_idx"
                ),
            ]
            for (name, plan, index) in plans {
                #expect(plan.contains(index), "\(name) does not use \(index):\n\(plan)")
                #expect(!plan.contains("Seq Scan on products"), "\(name) scans the whole table:\n\(plan)")
            }
        }
    }
}
