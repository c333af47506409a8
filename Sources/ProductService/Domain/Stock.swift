import ProductAPI

/// A product's stock: what is in the warehouse and how much of it is promised.
struct StockLevel: Sendable, Hashable {
    var onHand: Int
    var reserved: Int

    var available: Int { onHand - reserved }
}

/// The rules a reservation request must meet before any stock is touched.
enum ReservationRules {
    static let maxLines = 100

    /// Lines in product order (so concurrent reservations lock rows in one order), or why not.
    static func validated(_ lines: [ReservationLine]) throws(InventoryError) -> [ReservationLine] {
        guard !lines.isEmpty, lines.count <= maxLines else {
            throw .invalidLines("A reservation has 1 to \(maxLines) lines")
        }
        guard lines.allSatisfy({ $0.quantity >= 1 && $0.quantity <= 10_000 && $0.productID > 0 }) else {
            throw .invalidLines("Quantities are 1 to 10000 of a product id")
        }
        guard Set(lines.map(\.productID)).count == lines.count else { throw .invalidLines("Each product appears once") }
        return lines.sorted { $0.productID < $1.productID }
    }

    /// Whether a change from `before` to `after` available units crosses under `threshold`.
    static func crossesLowStock(before: Int, after: Int, threshold: Int) -> Bool {
        before >= threshold && after < threshold
    }
}
