/// A product as another service needs it: what it is called, what it costs now, whether
/// it is for sale and how many units are available.
public struct CatalogProduct: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case draft, active, archived
    }

    public var id: Int64
    public var sku: String
    public var name: String
    /// Minor units of `currency`.
    public var price: Int64
    public var currency: String
    public var status: Status
    public var available: Int

    public init(id: Int64, sku: String, name: String, price: Int64, currency: String, status: Status, available: Int) {
        self.id = id
        self.sku = sku
        self.name = name
        self.price = price
        self.currency = currency
        self.status = status
        self.available = available
    }
}

/// What the order service reads of the catalog: current names, prices and stock.
public protocol CatalogClient: Sendable {
    /// The products with these ids; unknown ids are left out of the answer.
    func products(ids: [Int64]) async throws -> [CatalogProduct]
}
