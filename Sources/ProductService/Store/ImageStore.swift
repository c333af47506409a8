import Foundation
import Platform
import SQLKit

/// An image of a product: the object it names is content-addressed, so the same bytes
/// on two products are one object.
struct ProductImage: Sendable, Hashable {
    let id: Int64
    let productID: Int64
    /// `images/<sha-256 of the bytes>.<extension>` in object storage.
    let objectKey: String
    let format: ImageFormat
    let sizeBytes: Int
    let width: Int
    let height: Int
    let createdAt: Date

    static let maxPerProduct = 20

    static func objectKey(digest: String, format: ImageFormat) -> String { "images/\(digest).\(format.fileExtension)" }

    /// The name under `/images/`: the key without its folder.
    var fileName: String { String(objectKey.dropFirst("images/".count)) }
}

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

    /// Adds the image to the product; the same bytes added again answer the image that is
    /// there (`created` is then `false`).
    func add(
        productID: Int64, objectKey: String, info: ImageInfo, sizeBytes: Int, at now: Date
    ) async throws -> (image: ProductImage, created: Bool) {
        let micros = now.microsecondsSince1970
        let result = try await database.transaction { sql -> (ProductImage, Bool) in
            guard try await sql.raw("SELECT id FROM products WHERE id = \(bind: productID)").first() != nil else {
                throw CatalogError.notFound(id: productID)
            }
            if let existing = try await sql.raw(
                "SELECT * FROM product_images WHERE product_id = \(bind: productID) AND object_key = \(bind: objectKey)"
            ).first() {
                return (try Self.image(from: existing), false)
            }
            let count = try await sql.raw("SELECT COUNT(*) AS n FROM product_images WHERE product_id = \(bind: productID)")
                .first(decodingColumn: "n", as: Int.self) ?? 0
            guard count < ProductImage.maxPerProduct else { throw ImageError.tooMany }
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
                id: try row!.decode(column: "id", as: Int64.self), productID: productID, objectKey: objectKey, format: info.format,
                sizeBytes: sizeBytes, width: info.width, height: info.height, createdAt: now)
            return (image, true)
        }
        return (result.0, result.1)
    }

    /// Removes an image from its product; `orphaned` says no product shows its object any more.
    func remove(productID: Int64, imageID: Int64, at now: Date) async throws -> (image: ProductImage, orphaned: Bool) {
        let result = try await database.transaction { sql -> (ProductImage, Bool) in
            guard let row = try await sql.raw(
                "SELECT * FROM product_images WHERE id = \(bind: imageID) AND product_id = \(bind: productID)"
            ).first() else { throw ImageError.notFound }
            let image = try Self.image(from: row)
            try await sql.raw("DELETE FROM product_images WHERE id = \(bind: imageID)").run()
            try await Self.touch(productID, at: now.microsecondsSince1970, in: sql)
            let others = try await sql.raw("SELECT id FROM product_images WHERE object_key = \(bind: image.objectKey) LIMIT 1").first()
            return (image, others == nil)
        }
        return (result.0, result.1)
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

    func productExists(_ id: Int64) async throws -> Bool {
        try await database.read { sql in try await sql.raw("SELECT id FROM products WHERE id = \(bind: id)").first() != nil }
    }

    /// Whether any product shows the object under `key`.
    func isReferenced(_ key: String) async throws -> Bool {
        try await database.read { sql in
            try await sql.raw("SELECT id FROM product_images WHERE object_key = \(bind: key) LIMIT 1").first() != nil
        }
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
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)))
    }
}

/// Image rules a request can break.
enum ImageError: Error, Hashable {
    case notFound
    case tooMany
    /// Not a JPEG, PNG or WebP image whose header can be read.
    case unrecognised
    case empty
    case tooLarge(limit: Int)
}
