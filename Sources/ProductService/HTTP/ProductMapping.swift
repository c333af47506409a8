import Platform
import ProductAPI

extension ProductSortField: SortField {}

extension ProductResource {
    init(_ product: Product, available: Int) {
        self.init(
            id: product.id,
            sku: product.sku.value,
            slug: product.slug.value,
            name: product.name,
            description: product.description,
            price: MoneyValue(amount: product.price.amount, currency: product.price.currency),
            status: product.status.rawValue,
            categoryID: product.categoryID,
            attributes: product.attributes.values,
            available: available,
            createdAt: product.createdAt,
            updatedAt: product.updatedAt
        )
    }
}

extension ProductStatus {
    init(parsing raw: String) throws(InvalidValue) {
        guard let status = ProductStatus(rawValue: raw) else {
            throw InvalidValue("Must be one of \(ProductStatus.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        self = status
    }
}

extension Money {
    init(_ value: MoneyValue) throws(InvalidValue) {
        try self.init(amount: value.amount, currency: value.currency)
    }
}

extension NewProduct {
    /// The domain input from a request body, or every problem with it at once.
    init(validating body: CreateProductRequest) throws(APIError) {
        var validation = Validation()
        let sku = validation.required("sku", body.sku, SKU.init(_:))
        let name = validation.required("name", body.name, ProductText.name)
        let description = validation.optional("description", body.description, ProductText.description)
        let price = validation.required("price", body.price, Money.init(_:))
        let status = validation.optional("status", body.status, ProductStatus.init(parsing:))
        let slug = validation.optional("slug", body.slug, Slug.init(_:))
        let attributes = validation.optional("attributes", body.attributes, ProductAttributes.init(_:))
        if let threshold = body.lowStockThreshold, !(0...1_000_000).contains(threshold) {
            validation.invalid("low_stock_threshold", "Must be from 0 to 1000000")
        }
        let (validSKU, validName, validPrice) = try validation.check(sku, name, price)
        self.init(
            sku: validSKU,
            slug: slug,
            name: validName,
            description: description ?? "",
            price: validPrice,
            status: status ?? .draft,
            categoryID: body.categoryID,
            attributes: attributes ?? ProductAttributes(),
            lowStockThreshold: body.lowStockThreshold ?? 5
        )
    }
}

extension ProductChanges {
    /// The domain change from a `PATCH` body, or every problem with it at once.
    init(validating body: UpdateProductRequest) throws(APIError) {
        var validation = Validation()
        var changes = ProductChanges()
        changes.name = validation.change("name", body.name, ProductText.name)
        switch body.description {
        case .absent: break
        case .null: changes.description = ""
        case .value(let raw): changes.description = validation.field("description") { () throws(InvalidValue) in try ProductText.description(raw) }
        }
        changes.price = validation.change("price", body.price, Money.init(_:))
        changes.status = validation.change("status", body.status, ProductStatus.init(parsing:))
        switch body.categoryID {
        case .absent: break
        case .null: changes.categoryID = .some(nil)
        case .value(let id): changes.categoryID = .some(id)
        }
        changes.slug = validation.change("slug", body.slug, Slug.init(_:))
        switch body.attributes {
        case .absent: break
        case .null: changes.attributes = ProductAttributes()
        case .value(let raw): changes.attributes = validation.field("attributes") { () throws(InvalidValue) in try ProductAttributes(raw) }
        }
        try validation.check()
        self = changes
    }
}

extension CatalogError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .notFound: .notFound("Product")
        case .staleVersion: APIError(.conflict, "The product changed since it was read; read it again", field: "If-Match")
        }
    }
}

extension CategoryError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .slugTaken: .validation("Slug already exists", field: "slug")
        case .parentNotFound: .validation("No such category", field: "parent_id")
        case .tooDeep: .validation("Categories nest at most \(Category.maxDepth) deep", field: "parent_id")
        case .cycle: .validation("A category cannot move under itself or its own subcategories", field: "parent_id")
        case .notFound: .validation("No such category", field: "category_id")
        }
    }
}

extension CategoryResource {
    init(_ category: Category) {
        self.init(id: category.id, slug: category.slug.value, name: category.name, parentID: category.parentID, createdAt: category.createdAt)
    }
}

extension ProductError: APIErrorConvertible {
    var apiError: APIError {
        switch self {
        case .skuTaken: .validation("SKU already exists", field: "sku")
        case .slugTaken: .validation("Slug already exists", field: "slug")
        }
    }
}

extension InventoryError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .outOfStock: APIError(.outOfStock, "Not enough stock")
        case .unknownProduct: .notFound("Product")
        case .notForSale: APIError(.conflict, "The product is not for sale")
        case .reservationNotFound: .notFound("Reservation")
        case .conflict(let message): APIError(.conflict, message)
        case .invalidLines(let message): .validation(message, field: "lines")
        case .invalidExpiry(let message): .validation(message, field: "expires_in_seconds")
        }
    }
}
