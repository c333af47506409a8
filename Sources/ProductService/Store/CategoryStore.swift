import Foundation
import Platform
import SQLKit

/// The category tree in SQL.
struct CategoryStore: Sendable {
    let database: any Database

    static func migration(_ version: Int) -> Migration {
        Migration(version, "categories") { sql in
            try await sql.raw(
                """
                CREATE TABLE categories (
                    id \(unsafeRaw: sql.identityColumn),
                    slug TEXT NOT NULL,
                    name TEXT NOT NULL,
                    parent_id BIGINT,
                    path TEXT NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX categories_slug_key ON categories (slug)").run()
            try await sql.raw("CREATE INDEX categories_path_idx ON categories (path)").run()
            try await sql.raw("ALTER TABLE products ADD COLUMN category_id BIGINT").run()
            try await sql.raw("CREATE INDEX products_category_idx ON products (category_id, status)").run()
        }
    }

    /// Adds a category under `parentID` (a root when `nil`).
    func create(slug: Slug, name: String, parentID: Int64?, at now: Date) async throws -> Category {
        try await database.transaction { sql in
            try await Self.serializeTreeChanges(in: sql)
            var parentPath = "/"
            if let parentID {
                guard
                    let path = try await sql.raw("SELECT path FROM categories WHERE id = \(bind: parentID)")
                        .first(decodingColumn: "path", as: String.self)
                else { throw CategoryError.parentNotFound }
                guard path.split(separator: "/").count < Category.maxDepth else { throw CategoryError.tooDeep }
                parentPath = path
            }
            guard
                let row = try await sql.raw(
                    """
                    INSERT INTO categories (slug, name, parent_id, path, created_at)
                    VALUES (\(bind: slug.value), \(bind: name), \(bind: parentID), '', \(bind: now.microsecondsSince1970))
                    ON CONFLICT (slug) DO NOTHING RETURNING id
                    """
                ).first()
            else { throw CategoryError.slugTaken }
            let id = try row.decode(column: "id", as: Int64.self)
            let path = "\(parentPath)\(id)/"
            try await sql.raw("UPDATE categories SET path = \(bind: path) WHERE id = \(bind: id)").run()
            return Category(id: id, slug: slug, name: name, parentID: parentID, path: path, createdAt: now)
        }
    }

    /// Renames, re-slugs or moves a category (`parentID` `.some(nil)` makes it a root);
    /// a move carries its whole subtree. `nil` when there is no such category.
    func update(id: Int64, slug: Slug?, name: String?, parentID: Int64??) async throws -> Category? {
        do {
            return try await change(id: id, slug: slug, name: name, parentID: parentID)
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            // A concurrent change took the slug between the check and the update.
            throw CategoryError.slugTaken
        }
    }

    private func change(id: Int64, slug: Slug?, name: String?, parentID: Int64??) async throws -> Category? {
        try await database.transaction { sql in
            try await Self.serializeTreeChanges(in: sql)
            guard
                var category = try await sql.raw(
                    "SELECT id, slug, name, parent_id, path, created_at FROM categories WHERE id = \(bind: id)"
                ).first().map(Self.category(from:))
            else { return nil }
            if let slug, slug != category.slug {
                guard try await sql.raw("SELECT id FROM categories WHERE slug = \(bind: slug.value)").first() == nil else {
                    throw CategoryError.slugTaken
                }
                category.slug = slug
            }
            if let name { category.name = name }
            if let parentID, parentID != category.parentID {
                var parentPath = "/"
                if let parentID {
                    guard
                        let path = try await sql.raw("SELECT path FROM categories WHERE id = \(bind: parentID)")
                            .first(decodingColumn: "path", as: String.self)
                    else { throw CategoryError.parentNotFound }
                    guard !path.hasPrefix(category.path) else { throw CategoryError.cycle }
                    parentPath = path
                }
                // The deepest node of the subtree must still fit under the new parent.
                let deepest =
                    try await sql.raw("SELECT path FROM categories WHERE path LIKE \(bind: category.path + "%")").all()
                    .map { try $0.decode(column: "path", as: String.self).split(separator: "/").count }.max() ?? 1
                let levelsBelow = deepest - category.path.split(separator: "/").count
                guard parentPath.split(separator: "/").count + 1 + levelsBelow <= Category.maxDepth else { throw CategoryError.tooDeep }
                let newPath = "\(parentPath)\(id)/"
                try await sql.raw(
                    """
                    UPDATE categories SET path = CAST(\(bind: newPath) AS TEXT) || substr(path, CAST(\(bind: category.path.utf8.count + 1) AS INTEGER))
                    WHERE path LIKE \(bind: category.path + "%")
                    """
                ).run()
                category.parentID = parentID
                category.path = newPath
            }
            try await sql.raw(
                """
                UPDATE categories SET slug = \(bind: category.slug.value), name = \(bind: category.name), parent_id = \(bind: category.parentID)
                WHERE id = \(bind: id)
                """
            ).run()
            return category
        }
    }

    /// Changes of the tree take turns: a move reads paths that a concurrent move or create
    /// would otherwise change under it (two categories moved under each other would make a
    /// cycle). SQLite's single writer already serializes them; PostgreSQL takes a lock for
    /// the transaction.
    private static func serializeTreeChanges(in sql: any SQLDatabase) async throws {
        guard sql.dialect.name != "sqlite" else { return }
        try await sql.raw("SELECT pg_advisory_xact_lock(\(bind: Self.treeLock))").run()
    }

    /// The advisory lock key of the category tree ("categories" in ASCII).
    static let treeLock: Int64 = 0x63_61_74_65_67_6F_72

    func find(id: Int64) async throws -> Category? {
        try await database.read { sql in
            try await sql.raw("SELECT id, slug, name, parent_id, path, created_at FROM categories WHERE id = \(bind: id)")
                .first().map(Self.category(from:))
        }
    }

    /// A page of categories in tree order (a parent before its children).
    func list(page: Int, perPage: Int) async throws -> ListPage<Category> {
        try await database.read { sql in
            let total = try await sql.raw("SELECT COUNT(*) AS total FROM categories").first(decodingColumn: "total", as: Int.self) ?? 0
            let rows = try await sql.raw(
                """
                SELECT id, slug, name, parent_id, path, created_at FROM categories
                ORDER BY path LIMIT \(bind: perPage) OFFSET \(bind: (page - 1) * perPage)
                """
            ).all()
            return .page(items: try rows.map(Self.category(from:)), number: page, perPage: perPage, total: total)
        }
    }

    private static func category(from row: any SQLRow) throws -> Category {
        Category(
            id: try row.decode(column: "id", as: Int64.self),
            slug: Slug(stored: try row.decode(column: "slug", as: String.self)),
            name: try row.decode(column: "name", as: String.self),
            parentID: try row.decodeNil(column: "parent_id") ? nil : row.decode(column: "parent_id", as: Int64.self),
            path: try row.decode(column: "path", as: String.self),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
        )
    }
}
