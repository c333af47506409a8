import Foundation
import Platform
import SQLKit

/// The images of products in SQL. Adding or removing one is a change of the product: its
/// version (and so its ETag) moves.
struct ImageStore: Sendable {
    let database: any Database

    static func migration(_ version: Int) -> Migration {
        Migration(version, "product images") { sql in
            try await sql.raw(
                """
                CREATE TABLE product_images (
                    id \(unsafeRaw: sql.identityColumn),
                    product_id BIGINT NOT NULL,
                    object_key TEXT NOT NULL,
                    format TEXT NOT NULL,
                    size_bytes BIGINT NOT NULL,
                    width INTEGER NOT NULL,
                    height INTEGER NOT NULL,
                    created_at BIGINT NOT NULL
                )
                """
            ).run()
            try await sql.raw("CREATE UNIQUE INDEX product_images_product_key ON product_images (product_id, object_key)").run()
            // Whether any product still shows an object, before the object is deleted.
            try await sql.raw("CREATE INDEX product_images_object_idx ON product_images (object_key)").run()
        }
    }

    /// Adds the image to the product, calling `storeObject` to write its bytes first; the
    /// same bytes added again answer the image that is there (`created` is then `false`).
    ///
    /// The bytes are written inside the transaction, holding the product's row and a lock
    /// on the object's key: an upload and the removal of the same bytes from another
    /// product take turns, so a removal can never delete an object a new row has just
    /// started to name, and two uploads cannot both pass the per-product limit.
    func add(
        productID: Int64,
        objectKey: String,
        info: ImageInfo,
        sizeBytes: Int,
        at now: Date,
        storeObject: @escaping @Sendable () async throws -> Void
    ) async throws -> (image: ProductImage, created: Bool) {
        let micros = now.microsecondsSince1970
        let result = try await database.transaction { sql -> (ProductImage, Bool) in
            guard try await sql.raw("SELECT id FROM products WHERE id = \(bind: productID)\(unsafeRaw: sql.forUpdate)").first() != nil else {
                throw CatalogError.notFound(id: productID)
            }
            if let existing = try await sql.raw(
                "SELECT * FROM product_images WHERE product_id = \(bind: productID) AND object_key = \(bind: objectKey)"
            ).first() {
                return (try Self.image(from: existing), false)
            }
            let count =
                try await sql.raw("SELECT COUNT(*) AS n FROM product_images WHERE product_id = \(bind: productID)")
                .first(decodingColumn: "n", as: Int.self) ?? 0
            guard count < ProductImage.maxPerProduct else { throw ImageError.tooMany }
            try await Self.lock(objectKey, in: sql)
            try await storeObject()
            let row = try await sql.raw(
                """
                INSERT INTO product_images (product_id, object_key, format, size_bytes, width, height, created_at)
                VALUES (\(bind: productID), \(bind: objectKey), \(bind: info.format.rawValue), \(bind: sizeBytes), \(bind: info.width),
                    \(bind: info.height), \(bind: micros))
                RETURNING id
                """
            ).first()
            try await Self.touch(productID, at: micros, in: sql)
            let image = ProductImage(
                id: try row!.decode(column: "id", as: Int64.self),
                productID: productID,
                objectKey: objectKey,
                format: info.format,
                sizeBytes: sizeBytes,
                width: info.width,
                height: info.height,
                createdAt: now
            )
            return (image, true)
        }
        return (result.0, result.1)
    }

    /// Removes an image from its product, and its object with `deleteObject` when no
    /// product shows it any more (inside the transaction, under the object's lock; if the
    /// object cannot be deleted, nothing is removed).
    func remove(
        productID: Int64,
        imageID: Int64,
        at now: Date,
        deleteObject: @escaping @Sendable (String) async throws -> Void
    ) async throws -> ProductImage {
        try await database.transaction { sql -> ProductImage in
            guard
                let row = try await sql.raw(
                    "SELECT * FROM product_images WHERE id = \(bind: imageID) AND product_id = \(bind: productID)"
                ).first()
            else { throw ImageError.notFound }
            let image = try Self.image(from: row)
            try await sql.raw("DELETE FROM product_images WHERE id = \(bind: imageID)").run()
            try await Self.touch(productID, at: now.microsecondsSince1970, in: sql)
            try await Self.lock(image.objectKey, in: sql)
            if try await sql.raw("SELECT id FROM product_images WHERE object_key = \(bind: image.objectKey) LIMIT 1").first() == nil {
                try await deleteObject(image.objectKey)
            }
            return image
        }
    }

    /// Uploads and removals of one object take turns: SQLite's single writer does that by
    /// itself; PostgreSQL takes a lock on the key for the transaction.
    private static func lock(_ objectKey: String, in sql: any SQLDatabase) async throws {
        guard sql.dialect.name != "sqlite" else { return }
        try await sql.raw("SELECT pg_advisory_xact_lock(hashtextextended(\(bind: objectKey), 0))").run()
    }

    /// The images of each product, oldest first, in one query.
    func images(of productIDs: [Int64]) async throws -> [Int64: [ProductImage]] {
        guard !productIDs.isEmpty else { return [:] }
        var query = SQLQueryString("SELECT * FROM product_images WHERE product_id IN ")
        query.appendBoundList(productIDs)
        query.appendInterpolation(unsafeRaw: " ORDER BY product_id, id")
        let rows = try await database.read { sql in try await sql.raw(query).all() }
        return try Dictionary(grouping: rows.map(Self.image(from:)), by: \.productID)
    }

    /// A new version of the product, so its ETag and every cached copy move on.
    private static func touch(_ productID: Int64, at micros: Int64, in sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE products SET version = version + 1, updated_at = \(bind: micros) WHERE id = \(bind: productID)").run()
    }

    private static func image(from row: any SQLRow) throws -> ProductImage {
        ProductImage(
            id: try row.decode(column: "id", as: Int64.self),
            productID: try row.decode(column: "product_id", as: Int64.self),
            objectKey: try row.decode(column: "object_key", as: String.self),
            format: ImageFormat(rawValue: try row.decode(column: "format", as: String.self)) ?? .jpeg,
            sizeBytes: try row.decode(column: "size_bytes", as: Int.self),
            width: try row.decode(column: "width", as: Int.self),
            height: try row.decode(column: "height", as: Int.self),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self))
        )
    }
}
