public import ServiceContract

/// `inventory.low_stock`: a product's available stock fell under its threshold.
public struct InventoryLowStock: DomainEvent, Hashable {
    public static let type = "inventory.low_stock"
    public var productID: Int64
    public var available: Int
    public var threshold: Int

    public init(productID: Int64, available: Int, threshold: Int) {
        self.productID = productID
        self.available = available
        self.threshold = threshold
    }

    enum CodingKeys: String, CodingKey {
        case productID = "product_id"
        case available, threshold
    }
}
