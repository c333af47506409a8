import Platform
import ProductAPI

/// A product read as the cache keeps it: everything but the live stock.
struct CachedProduct: Codable, Sendable {
    var resource: ProductResource
    var version: Int
}

/// A page of a product list as the cache keeps it.
struct CachedPage: Codable, Sendable {
    var items: [ProductResource]
    var number: Int?
    var perPage: Int
    var total: Int?
    var nextSort: String?
    var nextValues: [String]?

    init<Item>(_ items: [ProductResource], of page: ListPage<Item>) {
        self.items = items
        switch page {
        case .page(_, let number, let perPage, let total):
            self.number = number
            self.perPage = perPage
            self.total = total
        case .cursor(_, let perPage, let next):
            self.perPage = perPage
            nextSort = next?.sort
            nextValues = next?.values
        }
    }

    var page: ListPage<ProductResource> {
        if let number, let total { return .page(items: items, number: number, perPage: perPage, total: total) }
        let next = nextSort.map { Cursor(sort: $0, values: nextValues ?? []) }
        return .cursor(items: items, perPage: perPage, next: next)
    }
}

extension ProductResource: CacheWeighable {
    /// Text sizes plus a fixed share for numbers, dates and structure.
    var approximateBytes: Int {
        300 + sku.utf8.count + slug.utf8.count + name.utf8.count + description.utf8.count
            + attributes.reduce(0) { $0 + $1.key.utf8.count + $1.value.utf8.count + 16 }
            + images.reduce(0) { $0 + $1.url.utf8.count + 150 }
    }
}

extension CachedProduct: CacheWeighable {
    var approximateBytes: Int { resource.approximateBytes + 16 }
}

extension CachedPage: CacheWeighable {
    var approximateBytes: Int { 100 + items.reduce(0) { $0 + $1.approximateBytes } }
}

extension Optional: CacheWeighable where Wrapped: CacheWeighable {
    var approximateBytes: Int { self?.approximateBytes ?? 16 }
}
