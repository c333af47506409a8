/// The rules of the Products domain that a request can break; `HTTP/` maps each to
/// the error envelope.

/// Catalog rules a request can break.
enum ProductError: Error, Hashable {
    case skuTaken
    case slugTaken
}

/// Catalog rules a request can break.
enum CatalogError: Error, Hashable {
    case notFound(id: Int64)
    /// `If-Match` named another version than the current one.
    case staleVersion(current: Int)
}

/// Category rules a request can break.
enum CategoryError: Error, Hashable {
    case slugTaken
    case parentNotFound
    case tooDeep
    /// A category cannot move under itself or anything below it.
    case cycle
    case notFound(id: Int64)
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
