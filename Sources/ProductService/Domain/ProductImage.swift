import Foundation

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
