import Foundation
import Platform

/// The demo catalog of `shop seed`: a small category tree and products with stock.
public struct DemoCatalog: Sendable {
    let inventoryStore: InventoryStore
    let cache: CatalogCache?
    let now: @Sendable () -> Date

    /// Loads a demo catalog: a small category tree and `count` active products with
    /// stock, SKUs `DEMO-0001` and up; what exists already is left as it is.
    public func seed(count: Int, progress: (Int) -> Void = { _ in }) async throws {
        let categories = CategoryStore(database: inventoryStore.database)
        let tree = [
            ("home", ["kitchen", "garden", "lighting"]), ("clothing", ["shirts", "shoes", "bags"]), ("books", ["fiction", "science", "travel"]),
        ]
        var leaves: [Int64] = []
        let existing = try await categories.list(page: 1, perPage: 100).items
        func category(_ slug: String, parent: Int64?) async throws -> Int64 {
            if let found = existing.first(where: { $0.slug.value == slug }) { return found.id }
            return try await categories.create(slug: try Slug(slug), name: slug.capitalized, parentID: parent, at: now()).id
        }
        for (root, children) in tree {
            let rootID = try await category(root, parent: nil)
            for child in children { leaves.append(try await category(child, parent: rootID)) }
        }
        let nouns = [
            ["mug", "kettle", "pan", "teapot"], ["planter", "watering can", "rake", "hose"], ["lamp", "lantern", "pendant light", "bulb"],
            ["linen shirt", "oxford shirt", "polo", "tee"], ["sneaker", "boot", "sandal", "loafer"], ["tote", "backpack", "duffel", "satchel"],
            ["novel", "short stories", "anthology", "thriller"], ["atlas", "primer", "field guide", "almanac"],
            ["travel guide", "phrasebook", "road atlas", "city map"],
        ]
        let adjectives = ["Classic", "Modern", "Rustic", "Compact", "Deluxe", "Everyday", "Travel", "Organic"]
        // Batches of 500 in one transaction each: 100,000 products load in seconds.
        var batch: [(NewProduct, stock: Int)] = []
        for index in stride(from: 1, through: count, by: 1) {
            let leaf = index % leaves.count
            let noun = nouns[leaf][(index / leaves.count) % nouns[leaf].count]
            let name = "\(adjectives[index % adjectives.count]) \(noun) \(index)"
            let product = NewProduct(
                sku: try SKU(String(format: "DEMO-%04d", index)),
                slug: Slug.derived(from: name),
                name: name,
                description: "A demo \(noun) to browse, search and buy.",
                price: try Money(amount: Int64(199 + (index * 137) % 9800), currency: "EUR"),
                status: .active,
                categoryID: leaves[leaf],
                lowStockThreshold: 5
            )
            batch.append((product, 20 + (index * 7) % 80))
            if batch.count == 500 || index == count {
                try await inventoryStore.seed(batch, at: now())
                batch.removeAll(keepingCapacity: true)
                progress(index)
            }
        }
        await cache?.invalidate()
    }
}
