import Platform

/// The filters of `GET /api/v1/products`, validated: statuses (only staff see other
/// than active), a price range in minor units, a category subtree and a search.
struct ProductListFilter: Sendable {
    var statuses: [ProductStatus] = [.active]
    var minPrice: Int64?
    var maxPrice: Int64?
    var category: Int64?
    var search: SearchQuery?

    /// From the list's filter parameters, or every problem with them at once.
    init(_ filters: [String: String], principal: Principal?) throws(APIError) {
        var validation = Validation()
        if let raw = filters["status"] {
            if principal?.role.isStaff == true {
                if let status = validation.field("status", { () throws(InvalidValue) in try ProductStatus(parsing: raw) }) { statuses = [status] }
            } else {
                validation.invalid("status", "Only staff may list products that are not active")
            }
        }
        minPrice = validation.optional("min_price", filters["min_price"], Self.amount)
        maxPrice = validation.optional("max_price", filters["max_price"], Self.amount)
        category = validation.optional("category_id", filters["category_id"]) { (raw: String) throws(InvalidValue) in
            guard let id = Int64(raw), id > 0 else { throw InvalidValue("Must be a positive integer id") }
            return id
        }
        search = validation.optional("q", filters["q"], SearchQuery.init(_:))
        try validation.check()
    }

    private static func amount(_ raw: String) throws(InvalidValue) -> Int64 {
        guard let value = Int64(raw), value >= 0 else { throw InvalidValue("Must be a non-negative amount in minor units") }
        return value
    }
}
