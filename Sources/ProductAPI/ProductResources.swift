public import Foundation
public import ServiceContract

/// An amount in minor units and its ISO 4217 currency (`API.md`).
public struct MoneyValue: Codable, Sendable, Hashable {
    public var amount: Int64
    public var currency: String

    public init(amount: Int64, currency: String) {
        self.amount = amount
        self.currency = currency
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case amount, currency
    }

    public init(from decoder: any Decoder) throws {
        try decoder.rejectUnknownKeys(CodingKeys.self)
        let container = try decoder.container(keyedBy: CodingKeys.self)
        amount = try container.decode(Int64.self, forKey: .amount)
        currency = try container.decode(String.self, forKey: .currency)
    }
}

/// A product as the API shows it.
public struct ProductResource: Codable, Sendable, Hashable {
    public var id: Int64
    public var sku: String
    public var slug: String
    public var name: String
    public var description: String
    public var price: MoneyValue
    /// `draft`, `active` or `archived`.
    public var status: String
    public var categoryID: Int64?
    public var attributes: [String: String]
    /// Oldest first.
    public var images: [ProductImageResource]
    /// Units that can be bought now.
    public var available: Int
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: Int64,
        sku: String,
        slug: String,
        name: String,
        description: String,
        price: MoneyValue,
        status: String,
        categoryID: Int64?,
        attributes: [String: String],
        images: [ProductImageResource] = [],
        available: Int,
        createdAt: Date,
        updatedAt: Date
    ) {
        self.images = images
        self.categoryID = categoryID
        self.id = id
        self.sku = sku
        self.slug = slug
        self.attributes = attributes
        self.name = name
        self.description = description
        self.price = price
        self.status = status
        self.available = available
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, sku, slug, name, description, price, status, available, attributes, images
        case categoryID = "category_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}

/// An image of a product. Its URL names the bytes' hash, so it never changes meaning and
/// may be cached for a year.
public struct ProductImageResource: Codable, Sendable, Hashable {
    public var id: Int64
    public var url: String
    public var contentType: String
    public var sizeBytes: Int
    public var width: Int
    public var height: Int
    public var createdAt: Date

    public init(id: Int64, url: String, contentType: String, sizeBytes: Int, width: Int, height: Int, createdAt: Date) {
        self.id = id
        self.url = url
        self.contentType = contentType
        self.sizeBytes = sizeBytes
        self.width = width
        self.height = height
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, url, width, height
        case contentType = "content_type"
        case sizeBytes = "size_bytes"
        case createdAt = "created_at"
    }
}

/// The body of `POST /api/v1/products`.
public struct CreateProductRequest: JSONRequestBody, Encodable, Hashable {
    public var sku: String?
    public var slug: String?
    public var name: String?
    public var description: String?
    public var price: MoneyValue?
    public var status: String?
    public var categoryID: Int64?
    public var attributes: [String: String]?
    public var lowStockThreshold: Int?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case sku, slug, name, description, price, status, attributes
        case categoryID = "category_id"
        case lowStockThreshold = "low_stock_threshold"
    }
}

/// The body of `PATCH /api/v1/products/{id}`: only the fields present change.
public struct UpdateProductRequest: JSONRequestBody {
    public var name: PatchField<String>
    public var description: PatchField<String>
    public var price: PatchField<MoneyValue>
    public var status: PatchField<String>
    public var categoryID: PatchField<Int64>
    public var slug: PatchField<String>
    /// Replaces every attribute; `null` removes them all.
    public var attributes: PatchField<[String: String]>

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case name, description, price, status, slug, attributes
        case categoryID = "category_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decodePatch(String.self, forKey: .name)
        description = try container.decodePatch(String.self, forKey: .description)
        price = try container.decodePatch(MoneyValue.self, forKey: .price)
        status = try container.decodePatch(String.self, forKey: .status)
        categoryID = try container.decodePatch(Int64.self, forKey: .categoryID)
        slug = try container.decodePatch(String.self, forKey: .slug)
        attributes = try container.decodePatch([String: String].self, forKey: .attributes)
    }
}

/// The body of `POST /api/v1/products/{id}/inventory/adjustments`.
public struct StockAdjustmentRequest: JSONRequestBody, Encodable, Hashable {
    /// Units added (a delivery) or removed (a count, breakage), never zero.
    public var change: Int?
    public var reason: String?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case change, reason
    }
}

/// A product's stock.
public struct StockResource: Codable, Sendable, Hashable {
    public var productID: Int64
    public var onHand: Int
    public var reserved: Int
    public var available: Int

    public init(productID: Int64, onHand: Int, reserved: Int, available: Int) {
        self.productID = productID
        self.onHand = onHand
        self.reserved = reserved
        self.available = available
    }

    enum CodingKeys: String, CodingKey {
        case productID = "product_id"
        case onHand = "on_hand"
        case reserved, available
    }
}

/// A node of the category tree.
public struct CategoryResource: Codable, Sendable, Hashable {
    public var id: Int64
    public var slug: String
    public var name: String
    public var parentID: Int64?
    public var createdAt: Date

    public init(id: Int64, slug: String, name: String, parentID: Int64?, createdAt: Date) {
        self.id = id
        self.slug = slug
        self.name = name
        self.parentID = parentID
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, slug, name
        case parentID = "parent_id"
        case createdAt = "created_at"
    }
}

/// The body of `POST /api/v1/categories`.
public struct CreateCategoryRequest: JSONRequestBody, Encodable, Hashable {
    public var slug: String?
    public var name: String?
    public var parentID: Int64?

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case slug, name
        case parentID = "parent_id"
    }
}

/// The body of `PATCH /api/v1/categories/{id}`: only the fields present change; a new
/// `parent_id` moves the category with everything under it, `null` makes it a root.
public struct UpdateCategoryRequest: JSONRequestBody {
    public var slug: PatchField<String>
    public var name: PatchField<String>
    public var parentID: PatchField<Int64>

    public enum CodingKeys: String, CodingKey, CaseIterable {
        case slug, name
        case parentID = "parent_id"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        slug = try container.decodePatch(String.self, forKey: .slug)
        name = try container.decodePatch(String.self, forKey: .name)
        parentID = try container.decodePatch(Int64.self, forKey: .parentID)
    }
}
