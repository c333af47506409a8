import Foundation
import Platform

/// An amount of money in minor units (cents) of an ISO 4217 currency.
struct Money: Sendable, Hashable {
    let amount: Int64
    let currency: String

    init(amount: Int64, currency: String) throws(InvalidValue) {
        guard amount >= 0 else { throw InvalidValue("Must not be negative") }
        guard amount <= 100_000_000_00 else { throw InvalidValue("Must be at most 10000000000 minor units") }
        guard currency.utf8.count == 3, currency.utf8.allSatisfy({ (65...90).contains($0) }) else {
            throw InvalidValue("Must be an ISO 4217 code such as EUR")
        }
        self.amount = amount
        self.currency = currency
    }
}

/// A stock keeping unit: 1 to 64 of `[A-Z0-9-_.]`, unique in the catalog.
struct SKU: Sendable, Hashable {
    let value: String

    init(_ raw: String) throws(InvalidValue) {
        let value = raw.uppercased()
        guard (1...64).contains(value.utf8.count),
            value.utf8.allSatisfy({ (48...57).contains($0) || (65...90).contains($0) || $0 == 45 || $0 == 95 || $0 == 46 })
        else { throw InvalidValue("Must be 1 to 64 letters, digits, '-', '_' or '.'") }
        self.value = value
    }

    init(stored value: String) { self.value = value }
}

/// Where a product is in its life.
enum ProductStatus: String, Sendable, Hashable, CaseIterable {
    /// Being prepared by staff; not shown to customers.
    case draft
    /// On sale.
    case active
    /// No longer sold; kept for orders that name it.
    case archived
}

/// A product of the catalog.
struct Product: Sendable, Hashable {
    let id: Int64
    var sku: SKU
    /// Unique in the catalog: the product's address in a storefront's URLs.
    var slug: Slug
    var name: String
    var description: String = ""
    var price: Money
    var status: ProductStatus
    var categoryID: Int64?
    var attributes: ProductAttributes = ProductAttributes()
    /// Under this many available units, `inventory.low_stock` is published.
    var lowStockThreshold: Int
    let createdAt: Date
    var updatedAt: Date
    /// Grows with every change: the ETag, for optimistic concurrency.
    var version: Int = 1
}

/// What it takes to add a product.
struct NewProduct: Sendable, Hashable {
    var sku: SKU
    /// `nil`: made from the name (and the SKU when the name's slug is taken).
    var slug: Slug?
    var name: String
    var description: String = ""
    var price: Money
    var status: ProductStatus = .draft
    var categoryID: Int64?
    var attributes = ProductAttributes()
    var lowStockThreshold: Int = 5
}

/// Facts shoppers filter and compare on (`color: blue`, `size: M`): up to 30 pairs,
/// keys of 1 to 40 `[a-z0-9_]` starting with a letter, values of 1 to 200 characters.
struct ProductAttributes: Sendable, Hashable {
    let values: [String: String]

    init() { values = [:] }

    init(_ values: [String: String]) throws(InvalidValue) {
        guard values.count <= 30 else { throw InvalidValue("At most 30 attributes") }
        for (key, value) in values {
            guard (1...40).contains(key.utf8.count), key.utf8.first.map({ (97...122).contains($0) }) == true,
                key.utf8.allSatisfy({ (97...122).contains($0) || (48...57).contains($0) || $0 == 95 })
            else { throw InvalidValue("Attribute names are 1 to 40 of a-z, 0-9 and '_', starting with a letter: '\(key.prefix(40))'") }
            let trimmed = value.trimmingCharacters(in: .whitespacesAndNewlines)
            guard value.utf8.count <= TextBounds.maxBytes(forCharacters: 200), (1...200).contains(TextBounds.length(trimmed)), trimmed == value,
                !ProductText.hasControlCharacters(value, allowing: [])
            else {
                throw InvalidValue("Attribute '\(key)' must be 1 to 200 characters (800 bytes) without surrounding spaces or control characters")
            }
        }
        self.values = values
    }

    init(stored json: String) {
        values = (try? JSONTapeDecoder.decode([String: String].self, from: Data(json.utf8))) ?? [:]
    }

    /// The stored form: JSON with sorted keys, so equal attributes are equal text.
    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(values)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}

/// A product's (or category's) display name: 1 to 200 characters; a description: up to
/// 10,000, with line breaks and tabs; four bytes a character at most (``TextBounds``). No other control characters (NUL, escapes) in either.
enum ProductText {
    static func name(_ raw: String) throws(InvalidValue) -> String {
        let value = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        try TextBounds.check(value, characters: 1...200)
        guard !hasControlCharacters(value, allowing: []) else { throw InvalidValue("Must not contain control characters") }
        return value
    }

    static func description(_ raw: String) throws(InvalidValue) -> String {
        try TextBounds.check(raw, characters: 0...10_000)
        guard !hasControlCharacters(raw, allowing: ["\n", "\r", "\t"]) else {
            throw InvalidValue("Must not contain control characters other than line breaks and tabs")
        }
        return raw
    }

    static func hasControlCharacters(_ text: String, allowing allowed: Set<Unicode.Scalar>) -> Bool {
        text.unicodeScalars.contains { $0.properties.generalCategory == .control && !allowed.contains($0) }
    }
}

/// A partial update of a product: `nil` leaves a field as it is.
struct ProductChanges: Sendable, Hashable {
    var name: String?
    var description: String?
    var price: Money?
    var status: ProductStatus?
    /// `.some(nil)` takes the product out of its category.
    var categoryID: Int64??
    var slug: Slug?
    /// Replaces all of them.
    var attributes: ProductAttributes?

    /// `product` with these changes, one version later when anything changed.
    func applied(to product: Product, at now: Date) -> Product {
        var changed = product
        if let name { changed.name = name }
        if let description { changed.description = description }
        if let price { changed.price = price }
        if let status { changed.status = status }
        if let categoryID { changed.categoryID = categoryID }
        if let slug { changed.slug = slug }
        if let attributes { changed.attributes = attributes }
        if changed != product {
            changed.updatedAt = now
            changed.version += 1
        }
        return changed
    }
}

/// A full-text query: up to 10 words of letters and digits, each matched as a prefix,
/// all of them required.
struct SearchQuery: Sendable, Hashable {
    let terms: [String]

    init(_ raw: String) throws(InvalidValue) {
        let terms = raw.lowercased().split { !($0.isLetter || $0.isNumber) }.map(String.init).filter { !$0.isEmpty }
        guard !terms.isEmpty else { throw InvalidValue("Must contain a word") }
        guard terms.count <= 10, raw.utf8.count <= 800, TextBounds.length(raw) <= 200 else {
            throw InvalidValue("Must be at most 10 words and 200 characters (800 bytes)")
        }
        self.terms = terms
    }
}

/// How a list of products is sorted: by an indexed column.
enum ProductSortField: String, CaseIterable, Sendable {
    case createdAt = "created_at"
    case price
}
