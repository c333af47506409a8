import Foundation
import Platform
import SQLKit

/// Creating, reading and changing products: one implementation for SQLite and PostgreSQL.
struct CatalogStore: Sendable {
    let database: any Database

    static let columns =
        "p.id, p.sku, p.slug, p.name, p.description, p.price_amount, p.currency, p.status, p.category_id, p.attributes, p.low_stock_threshold, p.created_at, p.updated_at, p.version, i.on_hand - i.reserved AS available"

    /// Adds `product` with no stock. Without a slug, the name's slug is used, or the
    /// name's and the SKU's when the name's is taken.
    func create(_ product: NewProduct, at now: Date) async throws -> Product {
        try await database.transaction { sql in
            if let category = product.categoryID {
                try await CatalogStore.requireCategory(category, in: sql)
            }
            if try await sql.raw("SELECT id FROM products WHERE sku = \(bind: product.sku.value)").first() != nil {
                throw ProductError.skuTaken
            }
            let slug = try await Self.slug(for: product, in: sql)
            guard let id = try await Self.insert(product, slug: slug, stock: 0, at: now, in: sql) else {
                // A concurrent insert took the SKU or the slug since they were checked.
                let skuTaken = try await sql.raw("SELECT id FROM products WHERE sku = \(bind: product.sku.value)").first() != nil
                throw skuTaken ? ProductError.skuTaken : ProductError.slugTaken
            }
            return Product(
                id: id,
                sku: product.sku,
                slug: slug,
                name: product.name,
                description: product.description,
                price: product.price,
                status: product.status,
                categoryID: product.categoryID,
                attributes: product.attributes,
                lowStockThreshold: product.lowStockThreshold,
                createdAt: now,
                updatedAt: now
            )
        }
    }

    /// Inserts the product and its stock row; `nil` when its SKU or slug is taken.
    static func insert(_ product: NewProduct, slug: Slug, stock: Int, at now: Date, in sql: any SQLDatabase) async throws -> Int64? {
        let micros = now.microsecondsSince1970
        let row = try await sql.raw(
            """
            INSERT INTO products (sku, slug, name, description, price_amount, currency, status, category_id, attributes,
                low_stock_threshold, created_at, updated_at)
            VALUES (\(bind: product.sku.value), \(bind: slug.value), \(bind: product.name), \(bind: product.description),
                \(bind: product.price.amount), \(bind: product.price.currency), \(bind: product.status.rawValue), \(bind: product.categoryID),
                \(bind: product.attributes.json), \(bind: product.lowStockThreshold), \(bind: micros), \(bind: micros))
            ON CONFLICT DO NOTHING
            RETURNING id
            """
        ).first()
        guard let id = try row?.decode(column: "id", as: Int64.self) else { return nil }
        try await sql.raw("INSERT INTO inventory (product_id, on_hand, reserved) VALUES (\(bind: id), \(bind: stock), 0)").run()
        return id
    }

    private static func slug(for product: NewProduct, in sql: any SQLDatabase) async throws -> Slug {
        func taken(_ slug: Slug) async throws -> Bool {
            try await sql.raw("SELECT id FROM products WHERE slug = \(bind: slug.value)").first() != nil
        }
        if let slug = product.slug {
            if try await taken(slug) { throw ProductError.slugTaken }
            return slug
        }
        let fromName = Slug.derived(from: product.name, maxLength: 60)
        if let fromName, try await !taken(fromName) { return fromName }
        let withSKU = Slug.derived(from: [fromName?.value, product.sku.value].compactMap { $0 }.joined(separator: " "))
        guard let withSKU, try await !taken(withSKU) else { throw ProductError.slugTaken }
        return withSKU
    }

    /// The product with `id` and its available units.
    func find(id: Int64) async throws -> (Product, available: Int)? {
        try await database.read { sql in
            try await sql.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.id = \(bind: id)"
            ).first().map(Self.product(from:))
        }
    }

    /// The product with `slug` and its available units.
    func find(slug: String) async throws -> (Product, available: Int)? {
        try await database.read { sql in
            try await sql.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.slug = \(bind: slug)"
            ).first().map(Self.product(from:))
        }
    }

    /// The units available now of each product, in one query.
    func available(of productIDs: [Int64]) async throws -> [Int64: Int] {
        guard !productIDs.isEmpty else { return [:] }
        var query = SQLQueryString("SELECT product_id, on_hand - reserved AS available FROM inventory WHERE product_id IN ")
        query.appendBoundList(productIDs)
        let rows = try await database.read { sql in try await sql.raw(query).all() }
        var result: [Int64: Int] = [:]
        for row in rows { result[try row.decode(column: "product_id", as: Int64.self)] = try row.decode(column: "available", as: Int.self) }
        return result
    }

    /// A page of products with `statuses`, optionally in a price range, a category's
    /// subtree and matching a search, in the requested order.
    func list(
        _ query: ListQuery<ProductSortField>,
        statuses: [ProductStatus],
        minPrice: Int64?,
        maxPrice: Int64?,
        category: Int64? = nil,
        search: SearchQuery? = nil
    ) async throws -> ListPage<(Product, available: Int)> {
        let filter = try await filterClause(statuses: statuses, minPrice: minPrice, maxPrice: maxPrice, category: category, search: search)
        let byPrice = query.sort.field == .price
        let list = KeysetList(
            select: "SELECT \(Self.columns) FROM products p JOIN inventory i ON i.product_id = p.id",
            count: "SELECT COUNT(*) AS total FROM products p",
            filter: filter,
            keyset: [byPrice ? "p.price_amount" : "p.created_at", "p.id"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: Self.product(from:),
            cursorValues: { [byPrice ? $0.0.price.amount : $0.0.createdAt.microsecondsSince1970, $0.0.id] }
        )
        return try await list.fetch(query.pagination) { body in
            try await read(planning: filter, narrowable: category != nil || search != nil, body)
        }
    }

    /// PostgreSQL's plan for the first page of a list: for the tests that hold every
    /// documented filter and sort to an index.
    func explainFirstPage(
        sort: Platform.SortOrder<ProductSortField>,
        statuses: [ProductStatus],
        minPrice: Int64? = nil,
        maxPrice: Int64? = nil,
        category: Int64? = nil,
        search: SearchQuery? = nil
    ) async throws -> String {
        let filter = try await filterClause(statuses: statuses, minPrice: minPrice, maxPrice: maxPrice, category: category, search: search)
        let column = sort.field == .price ? "p.price_amount" : "p.created_at"
        let direction = sort.descending ? "DESC" : "ASC"
        return try await read(planning: filter, narrowable: category != nil || search != nil) { sql in
            try await sql.raw(
                """
                EXPLAIN SELECT \(unsafeRaw: Self.columns) FROM products p JOIN inventory i ON i.product_id = p.id WHERE \(filter)
                ORDER BY \(unsafeRaw: column) \(unsafeRaw: direction), p.id \(unsafeRaw: direction) LIMIT 21
                """
            ).all().map { try $0.decode(column: "QUERY PLAN", as: String.self) }.joined(separator: "\n")
        }
    }

    /// Lists of a category or a search with at most this many products start from the
    /// category's or the full-text index.
    static let narrowList = 1000

    /// Runs a list query; on PostgreSQL a list of a category or a search is planned from
    /// how many products it holds.
    ///
    /// The planner cannot tell a narrow list from a wide one here: a prefix search
    /// (`lin:*`) gets a fixed guess, and a category's products are guessed independently
    /// of their status. It walks the sort index and tests every product, which for a word
    /// in no active product reads the whole index (72 ms on 100,000 products). So the
    /// matches are first counted with bitmap scans of the category and full-text indexes,
    /// up to ``narrowList``: a narrow list then runs on bitmap scans only (those indexes,
    /// then a sort of the few matches), a wide one walks the sort index, where matches
    /// come quickly.
    private func read<Result: Sendable>(
        planning filter: SQLQueryString,
        narrowable: Bool,
        _ body: @escaping @Sendable (any SQLDatabase) async throws -> Result
    ) async throws -> Result {
        guard narrowable, database.kind == .postgres else { return try await database.read(body) }
        return try await database.transaction { sql in
            try await sql.raw("SET LOCAL enable_seqscan = off").run()
            try await sql.raw("SET LOCAL enable_indexscan = off").run()
            let matches =
                try await sql.raw(
                    "SELECT COUNT(*) AS n FROM (SELECT p.id FROM products p WHERE \(filter) LIMIT \(bind: Self.narrowList + 1)) m"
                ).first(decodingColumn: "n", as: Int.self) ?? 0
            if matches > Self.narrowList {
                try await sql.raw("SET LOCAL enable_seqscan = on").run()
                try await sql.raw("SET LOCAL enable_indexscan = on").run()
            }
            return try await body(sql)
        }
    }

    static func tsquery(_ search: SearchQuery) -> String {
        search.terms.map { "\($0):*" }.joined(separator: " & ")
    }

    private func filterClause(
        statuses: [ProductStatus],
        minPrice: Int64?,
        maxPrice: Int64?,
        category: Int64?,
        search: SearchQuery?
    ) async throws -> SQLQueryString {
        var filter = SQLQueryString("p.status IN ")
        filter.appendBoundList(statuses.map(\.rawValue))
        if let minPrice {
            filter.appendInterpolation(unsafeRaw: " AND p.price_amount >= ")
            filter.appendInterpolation(bind: minPrice)
        }
        if let maxPrice {
            filter.appendInterpolation(unsafeRaw: " AND p.price_amount <= ")
            filter.appendInterpolation(bind: maxPrice)
        }
        if let category {
            // The category and everything under it (one prefix of the materialized path),
            // as a list of ids: the planner then sees how many products they hold and
            // starts from `products_category_idx` for a small category.
            let ids = try await database.read { sql in
                guard
                    let path = try await sql.raw("SELECT path FROM categories WHERE id = \(bind: category)")
                        .first(decodingColumn: "path", as: String.self)
                else { return nil as [Int64]? }
                return try await sql.raw("SELECT id FROM categories WHERE path LIKE \(bind: path + "%")").all()
                    .map { try $0.decode(column: "id", as: Int64.self) }
            }
            guard let ids else { throw CategoryError.notFound(id: category) }
            filter.appendInterpolation(unsafeRaw: " AND p.category_id IN ")
            filter.appendBoundList(ids)
        }
        if let search {
            switch database.kind {
            case .sqlite:
                filter.appendInterpolation(unsafeRaw: " AND p.id IN (SELECT rowid FROM products_fts WHERE products_fts MATCH ")
                filter.appendInterpolation(bind: search.terms.map { "\"\($0)\"*" }.joined(separator: " "))
                filter.appendInterpolation(unsafeRaw: ")")
            case .postgres:
                filter.appendInterpolation(unsafeRaw: " AND p.search_vector @@ to_tsquery('simple', ")
                filter.appendInterpolation(bind: Self.tsquery(search))
                filter.appendInterpolation(unsafeRaw: ")")
            }
        }
        return filter
    }

    /// Applies `changes` when the product is still at `expectedVersion` (when given).
    func update(id: Int64, with changes: ProductChanges, expectedVersion: Int?, at now: Date) async throws -> (Product, available: Int) {
        do {
            return try await apply(changes, to: id, expectedVersion: expectedVersion, at: now)
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            throw ProductError.slugTaken
        }
    }

    private func apply(_ changes: ProductChanges, to id: Int64, expectedVersion: Int?, at now: Date) async throws -> (Product, available: Int) {
        try await database.transaction { sql in
            guard
                let row = try await sql.raw(
                    "SELECT \(unsafeRaw: Self.columns) FROM products p JOIN inventory i ON i.product_id = p.id WHERE p.id = \(bind: id)"
                ).first()
            else { throw CatalogError.notFound(id: id) }
            let (current, available) = try Self.product(from: row)
            if let expectedVersion, expectedVersion != current.version { throw CatalogError.staleVersion(current: current.version) }
            if let category = changes.categoryID ?? nil { try await Self.requireCategory(category, in: sql) }
            let updated = changes.applied(to: current, at: now)
            guard updated != current else { return (current, available) }
            try await sql.raw(
                """
                UPDATE products SET name = \(bind: updated.name), description = \(bind: updated.description),
                    price_amount = \(bind: updated.price.amount), currency = \(bind: updated.price.currency),
                    status = \(bind: updated.status.rawValue), category_id = \(bind: updated.categoryID), slug = \(bind: updated.slug.value),
                    attributes = \(bind: updated.attributes.json), updated_at = \(bind: updated.updatedAt.microsecondsSince1970),
                    version = \(bind: updated.version)
                WHERE id = \(bind: id) AND version = \(bind: current.version)
                """
            ).run()
            return (updated, available)
        }
    }

    /// Throws ``CategoryError/notFound(id:)`` unless the category exists.
    static func requireCategory(_ id: Int64, in sql: any SQLDatabase) async throws {
        guard try await sql.raw("SELECT id FROM categories WHERE id = \(bind: id)").first() != nil else {
            throw CategoryError.notFound(id: id)
        }
    }

    private static func product(from row: any SQLRow) throws -> (Product, available: Int) {
        let price = try Money(
            amount: try row.decode(column: "price_amount", as: Int64.self),
            currency: try row.decode(column: "currency", as: String.self)
        )
        let product = Product(
            id: try row.decode(column: "id", as: Int64.self),
            sku: SKU(stored: try row.decode(column: "sku", as: String.self)),
            slug: Slug(stored: try row.decode(column: "slug", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            description: try row.decode(column: "description", as: String.self),
            price: price,
            status: ProductStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .draft,
            categoryID: try row.decodeNil(column: "category_id") ? nil : row.decode(column: "category_id", as: Int64.self),
            attributes: ProductAttributes(stored: try row.decode(column: "attributes", as: String.self)),
            lowStockThreshold: try row.decode(column: "low_stock_threshold", as: Int.self),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
            version: try row.decode(column: "version", as: Int.self)
        )
        return (product, try row.decode(column: "available", as: Int.self))
    }
}
