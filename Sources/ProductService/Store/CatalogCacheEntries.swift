import Platform
import ProductAPI

/// What a shared cache keeps as text and reads back: nil for text it did not write
/// (another version's entry, a damaged one), which is a miss.
protocol CatalogCacheValue: Sendable {
    var cacheText: String { get }
    init?(cacheText: String)
    /// The products whose live counts an answer of this value shows.
    var productIDs: [Int64] { get }
    /// Whether there is at most one entry like this per product (a product that exists),
    /// so that however long they live, the catalog bounds them; a client cannot make more.
    var boundedByCatalog: Bool { get }
}

extension CatalogCacheValue {
    var boundedByCatalog: Bool { false }
}

/// A product read as the cache keeps it: the answer's bytes with a hole for its stock, and
/// what decides who may see it and its `ETag`.
struct CachedProductBody: CatalogCacheValue, CacheWeighable {
    var template: StockTemplate
    var id: Int64
    var version: Int
    var active: Bool

    var cacheText: String { "product \(id) \(version) \(active ? 1 : 0)\n" + template.text }

    init(template: StockTemplate, id: Int64, version: Int, active: Bool) {
        self.template = template
        self.id = id
        self.version = version
        self.active = active
    }

    init?(cacheText: String) {
        guard let newline = cacheText.firstIndex(of: "\n") else { return nil }
        let fields = cacheText[..<newline].split(separator: " ")
        guard fields.count == 4, fields[0] == "product", let id = Int64(fields[1]), let version = Int(fields[2]),
            let template = StockTemplate(text: cacheText[cacheText.index(after: newline)...])
        else { return nil }
        self.init(template: template, id: id, version: version, active: fields[3] == "1")
    }

    var approximateBytes: Int { template.bytes + 64 }
    var productIDs: [Int64] { template.productIDs }
    /// Kept by its id and by its slug: two entries per product at most in a generation.
    var boundedByCatalog: Bool { true }
}

/// A list page as the cache keeps it: the answer's bytes with a hole per product, and where
/// the page stands among the others (its `Link` header is built on each request's query).
struct CachedListBody: CatalogCacheValue, CacheWeighable {
    var template: StockTemplate
    /// The page with its products' ids for items.
    var page: ListPage<Int64>

    init(template: StockTemplate, page: ListPage<Int64>) {
        self.template = template
        self.page = page
    }

    var cacheText: String {
        let head: String
        switch page {
        case .page(_, let number, let perPage, let total): head = "page \(number) \(perPage) \(total)"
        case .cursor(_, let perPage, let next): head = "cursor \(perPage) \(next?.token ?? "-")"
        }
        return head + "\n" + template.text
    }

    init?(cacheText: String) {
        guard let newline = cacheText.firstIndex(of: "\n"),
            let template = StockTemplate(text: cacheText[cacheText.index(after: newline)...])
        else { return nil }
        let fields = cacheText[..<newline].split(separator: " ").map(String.init)
        switch (fields.first, fields.count) {
        case ("page", 4):
            guard let number = Int(fields[1]), let perPage = Int(fields[2]), let total = Int(fields[3]) else { return nil }
            page = .page(items: template.productIDs, number: number, perPage: perPage, total: total)
        case ("cursor", 3):
            guard let perPage = Int(fields[1]) else { return nil }
            let next = fields[2] == "-" ? nil : Cursor(token: fields[2])
            guard fields[2] == "-" || next != nil else { return nil }
            page = .cursor(items: template.productIDs, perPage: perPage, next: next)
        default:
            return nil
        }
        self.template = template
    }

    var approximateBytes: Int { template.bytes + 64 }
    var productIDs: [Int64] { template.productIDs }
}

extension Optional: CatalogCacheValue where Wrapped: CatalogCacheValue {
    /// A product that does not exist is kept too (as `none`), so a flood of reads of one
    /// missing id does not reach the database each time.
    var cacheText: String { self?.cacheText ?? "none" }
    var productIDs: [Int64] { self?.productIDs ?? [] }
    /// Ids that name no product are the client's choice: their `none` lives the short life.
    var boundedByCatalog: Bool { self?.boundedByCatalog ?? false }

    init?(cacheText: String) {
        if cacheText == "none" {
            self = .none
        } else if let value = Wrapped(cacheText: cacheText) {
            self = .some(value)
        } else {
            return nil
        }
    }
}

extension Optional: CacheWeighable where Wrapped: CacheWeighable {
    var approximateBytes: Int { self?.approximateBytes ?? 16 }
}
