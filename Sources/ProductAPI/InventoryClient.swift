public import Foundation

/// One line of a stock reservation: how many units of which product.
public struct ReservationLine: Sendable, Hashable, Codable {
    public var productID: Int64
    public var quantity: Int

    public init(productID: Int64, quantity: Int) {
        self.productID = productID
        self.quantity = quantity
    }
}

/// A reservation as the Products service holds it.
public struct Reservation: Sendable, Hashable {
    public enum State: String, Sendable, Hashable, Codable {
        /// Stock is set aside until `expiresAt`.
        case held
        /// The stock left for good (the order was paid).
        case committed
        /// Given back on purpose.
        case released
        /// Given back because it was neither committed nor released in time.
        case expired
        /// The stock of a committed reservation came back (the order was cancelled or refunded after payment).
        case returned
    }

    public var id: String
    public var lines: [ReservationLine]
    public var state: State
    public var expiresAt: Date

    public init(id: String, lines: [ReservationLine], state: State, expiresAt: Date) {
        self.id = id
        self.lines = lines
        self.state = state
        self.expiresAt = expiresAt
    }
}

/// What the order service asks of inventory during checkout.
///
/// Every call is keyed by the reservation id the caller chooses (the order's), so a
/// retry of any call has no second effect.
public protocol InventoryClient: Sendable {
    /// Sets stock aside for every line, all or nothing, until `expiresIn` from now.
    /// Reserving an id again with the same lines answers the existing reservation.
    func reserve(id: String, lines: [ReservationLine], expiresIn: Duration) async throws -> Reservation
    /// The stock of a held reservation leaves for good.
    func commit(id: String) async throws -> Reservation
    /// A held reservation's stock returns.
    func release(id: String) async throws -> Reservation
    /// The stock of a committed reservation comes back (the order was cancelled after it
    /// was paid). Restocking twice is answered, not repeated.
    func restock(id: String) async throws -> Reservation
}

/// Why an inventory call was refused.
public enum InventoryError: Error, Sendable, Hashable {
    /// Not enough available stock for this product; nothing was reserved.
    case outOfStock(productID: Int64)
    case unknownProduct(productID: Int64)
    /// The product is a draft or archived: it cannot be bought.
    case notForSale(productID: Int64)
    case reservationNotFound(id: String)
    /// The id is taken by a reservation with other lines, or the reservation is no
    /// longer in a state that allows this call.
    case conflict(String)
    /// Lines must name distinct products with quantities of at least 1.
    case invalidLines(String)
    /// A reservation is held for 1 second to 24 hours.
    case invalidExpiry(String)

    /// Whole seconds of `duration`, a started second counted, when it is a valid hold.
    public static func holdSeconds(_ duration: Duration) throws(InventoryError) -> Int {
        let (seconds, attoseconds) = duration.components
        let whole = seconds + (attoseconds > 0 ? 1 : 0)
        guard (1...86_400).contains(whole) else { throw .invalidExpiry("A reservation is held for 1 second to 24 hours") }
        return Int(whole)
    }
}
