import Foundation
import Platform
import ProductAPI
import SQLKit

/// The stock of products in SQL (levels, reservations, the ledger): one implementation
/// for SQLite and PostgreSQL. Products themselves are ``CatalogStore``'s.
///
/// A reservation takes each line's units with one conditional update
/// (`reserved = reserved + n WHERE on_hand - reserved >= n`), which the database applies
/// atomically per row, so concurrent buyers of the last unit cannot both get it; the
/// lines are taken in product order inside one transaction, all or nothing.
struct InventoryStore: Sendable {
    let database: any Database
    let outbox: EventOutbox

    init(database: any Database) {
        self.database = database
        self.outbox = EventOutbox(database: database, source: "/products")
    }

    /// Adds demo products with their stock in one transaction; a product whose SKU or
    /// slug exists already is left out.
    func seed(_ products: [(NewProduct, stock: Int)], at now: Date) async throws {
        try await database.transaction { sql in
            for (product, stock) in products {
                guard let slug = product.slug, let id = try await CatalogStore.insert(product, slug: slug, stock: stock, at: now, in: sql) else {
                    continue
                }
                try await Self.record(id, onHand: stock, reserved: 0, reason: "adjustment: demo stock", reference: nil, at: now, in: sql)
            }
        }
    }

    /// The stock of `productID`.
    func stock(of productID: Int64) async throws -> StockLevel {
        let row = try await database.read { sql in
            try await sql.raw("SELECT on_hand, reserved FROM inventory WHERE product_id = \(bind: productID)").first()
        }
        guard let row else { throw InventoryError.unknownProduct(productID: productID) }
        return StockLevel(onHand: try row.decode(column: "on_hand", as: Int.self), reserved: try row.decode(column: "reserved", as: Int.self))
    }

    /// Changes the units on hand by `change` (a delivery, a count, a write-off), with the
    /// reason in the ledger. Refused when it would leave fewer units than are reserved.
    func adjust(productID: Int64, by change: Int, reason: String, at now: Date) async throws -> StockLevel {
        let (level, announced) = try await database.transaction { sql -> (StockLevel, Bool) in
            guard let before = try await Self.level(productID, in: sql) else { throw InventoryError.unknownProduct(productID: productID) }
            guard before.onHand + change >= before.reserved else {
                throw InventoryError.conflict("Only \(before.onHand - before.reserved) units are not reserved")
            }
            try await sql.raw(
                "UPDATE inventory SET on_hand = on_hand + \(bind: change) WHERE product_id = \(bind: productID)"
            ).run()
            try await Self.record(productID, onHand: change, reserved: 0, reason: "adjustment: \(reason)", reference: nil, at: now, in: sql)
            let after = StockLevel(onHand: before.onHand + change, reserved: before.reserved)
            return (after, try await lowStockIfCrossed(productID, before: before.available, after: after.available, at: now, in: sql))
        }
        if announced { outbox.committed() }
        return level
    }

    /// Sets stock aside for every line, all or nothing; the same id with the same lines
    /// answers the reservation made before (`created` is then `false`).
    func reserve(id: String, lines: [ReservationLine], expiresAt: Date, at now: Date) async throws -> Reservation {
        try await reserveOnce(id: id, lines: lines, expiresAt: expiresAt, at: now).reservation
    }

    func reserveOnce(id: String, lines: [ReservationLine], expiresAt: Date, at now: Date) async throws -> (reservation: Reservation, created: Bool) {
        let lines = try ReservationRules.validated(lines)
        let micros = now.microsecondsSince1970
        let (reservation, created, announced) = try await database.transaction { sql -> (Reservation, Bool, Bool) in
            if let existing = try await Self.reservation(id, in: sql) {
                guard existing.lines == lines else { throw InventoryError.conflict("Reservation \(id) exists with other lines") }
                return (existing, false, false)
            }
            var thresholds: [Int64: Int] = [:]
            for line in lines {
                guard
                    let row = try await sql.raw("SELECT status, low_stock_threshold FROM products WHERE id = \(bind: line.productID)").first()
                else { throw InventoryError.unknownProduct(productID: line.productID) }
                guard try row.decode(column: "status", as: String.self) == ProductStatus.active.rawValue else {
                    throw InventoryError.notForSale(productID: line.productID)
                }
                thresholds[line.productID] = try row.decode(column: "low_stock_threshold", as: Int.self)
            }
            try await sql.raw(
                """
                INSERT INTO reservations (id, state, expires_at, created_at, updated_at)
                VALUES (\(bind: id), \(bind: Reservation.State.held.rawValue), \(bind: expiresAt.microsecondsSince1970), \(bind: micros), \(bind: micros))
                """
            ).run()
            for line in lines {
                try await sql.raw(
                    """
                    INSERT INTO reservation_lines (reservation_id, product_id, quantity)
                    VALUES (\(bind: id), \(bind: line.productID), \(bind: line.quantity))
                    """
                ).run()
                try await Self.record(line.productID, onHand: 0, reserved: line.quantity, reason: "reserve", reference: id, at: now, in: sql)
            }
            // The stock's rows last: a popular product's row is every buyer's, and its lock
            // is held from this update to the commit, so nothing else waits in between.
            var announced = false
            for line in lines {
                let taken = try await sql.raw(
                    """
                    UPDATE inventory SET reserved = reserved + \(bind: line.quantity)
                    WHERE product_id = \(bind: line.productID) AND on_hand - reserved >= \(bind: line.quantity)
                    RETURNING on_hand - reserved AS available
                    """
                ).first()
                guard let available = try taken?.decode(column: "available", as: Int.self) else {
                    throw InventoryError.outOfStock(productID: line.productID)
                }
                let before = available + line.quantity
                if try await lowStockIfCrossed(
                    line.productID,
                    before: before,
                    after: available,
                    threshold: thresholds[line.productID],
                    at: now,
                    in: sql
                ) {
                    announced = true
                }
            }
            return (Reservation(id: id, lines: lines, state: .held, expiresAt: expiresAt), true, announced)
        }
        // The relay is woken only for a transaction that wrote an event: a wake-up for
        // nothing was a read of the outbox per checkout step.
        if announced { outbox.committed() }
        return (reservation, created)
    }

    /// The reservation with `id`, if any.
    func reservation(id: String) async throws -> Reservation? {
        try await database.read { sql in try await Self.reservation(id, in: sql) }
    }

    /// The held reservation's units leave for good. Committing twice is answered, not repeated.
    func commit(id: String, at now: Date) async throws -> Reservation {
        try await finish(id, as: .committed, at: now)
    }

    /// The held reservation's units return. Releasing twice is answered, not repeated.
    func release(id: String, at now: Date) async throws -> Reservation {
        try await finish(id, as: .released, at: now)
    }

    /// The committed reservation's units come back on hand (the order was cancelled after
    /// it was paid). Restocking twice is answered, not repeated.
    func restock(id: String, at now: Date) async throws -> Reservation {
        let reservation = try await database.transaction { sql -> Reservation in
            guard var reservation = try await Self.reservation(id, in: sql) else { throw InventoryError.reservationNotFound(id: id) }
            if reservation.state == .returned { return reservation }
            guard reservation.state == .committed else {
                throw InventoryError.conflict("Reservation \(id) is \(reservation.state.rawValue)")
            }
            // Only the transaction that moves it out of `committed` touches the stock.
            let moved = try await sql.raw(
                """
                UPDATE reservations SET state = \(bind: Reservation.State.returned.rawValue), updated_at = \(bind: now.microsecondsSince1970)
                WHERE id = \(bind: id) AND state = 'committed' RETURNING id
                """
            ).first()
            guard moved != nil else { throw InventoryError.conflict("Reservation \(id) changed meanwhile") }
            for line in reservation.lines {
                try await Self.record(
                    line.productID,
                    onHand: line.quantity,
                    reserved: 0,
                    reason: Reservation.State.returned.rawValue,
                    reference: id,
                    at: now,
                    in: sql
                )
            }
            for line in reservation.lines {
                try await sql.raw(
                    "UPDATE inventory SET on_hand = on_hand + \(bind: line.quantity) WHERE product_id = \(bind: line.productID)"
                ).run()
            }
            reservation.state = .returned
            return reservation
        }
        return reservation
    }

    /// Returns the stock of every held reservation that expired by `now`; those expired.
    func expireReservations(now: Date) async throws -> [Reservation] {
        let due = try await database.read { sql in
            try await sql.raw(
                "SELECT id FROM reservations WHERE state = 'held' AND expires_at <= \(bind: now.microsecondsSince1970) ORDER BY expires_at LIMIT 500"
            ).all().map { try $0.decode(column: "id", as: String.self) }
        }
        var expired: [Reservation] = []
        for id in due {
            // One that was committed or released meanwhile is left as it is.
            if let reservation = try? await finish(id, as: .expired, at: now), reservation.state == .expired {
                expired.append(reservation)
            }
        }
        return expired
    }

    /// Up to `limit` product ids above `afterID`, in order: a page of the whole catalog,
    /// for sweeping reconciliation.
    func productIDs(after afterID: Int64, limit: Int) async throws -> [Int64] {
        try await database.read { sql in
            try await sql.raw(
                "SELECT product_id FROM inventory WHERE product_id > \(bind: afterID) ORDER BY product_id LIMIT \(bind: limit)"
            ).all().map { try $0.decode(column: "product_id", as: Int64.self) }
        }
    }

    /// Sums of the ledger per product: they must equal the stock's counts.
    func ledgerTotals(of productID: Int64) async throws -> StockLevel {
        let row = try await database.read { sql in
            try await sql.raw(
                """
                SELECT COALESCE(SUM(on_hand_change), 0) AS on_hand, COALESCE(SUM(reserved_change), 0) AS reserved
                FROM inventory_ledger WHERE product_id = \(bind: productID)
                """
            ).first()
        }
        return StockLevel(
            onHand: try row?.decode(column: "on_hand", as: Int.self) ?? 0,
            reserved: try row?.decode(column: "reserved", as: Int.self) ?? 0
        )
    }

    private func finish(_ id: String, as state: Reservation.State, at now: Date) async throws -> Reservation {
        let reservation = try await database.transaction { sql -> Reservation in
            guard var reservation = try await Self.reservation(id, in: sql) else { throw InventoryError.reservationNotFound(id: id) }
            if reservation.state == state { return reservation }
            guard reservation.state == .held else {
                throw InventoryError.conflict("Reservation \(id) is \(reservation.state.rawValue)")
            }
            // Only the transaction that moves it out of `held` touches the stock.
            let moved = try await sql.raw(
                """
                UPDATE reservations SET state = \(bind: state.rawValue), updated_at = \(bind: now.microsecondsSince1970)
                WHERE id = \(bind: id) AND state = 'held' RETURNING id
                """
            ).first()
            guard moved != nil else { throw InventoryError.conflict("Reservation \(id) changed meanwhile") }
            let onHandChange = state == .committed
            for line in reservation.lines {
                try await Self.record(
                    line.productID,
                    onHand: onHandChange ? -line.quantity : 0,
                    reserved: -line.quantity,
                    reason: state.rawValue,
                    reference: id,
                    at: now,
                    in: sql
                )
            }
            // The stock's rows last, as in a reservation: their locks are held until the commit.
            for line in reservation.lines {
                try await sql.raw(
                    """
                    UPDATE inventory SET reserved = reserved - \(bind: line.quantity),
                        on_hand = on_hand - \(bind: onHandChange ? line.quantity : 0)
                    WHERE product_id = \(bind: line.productID)
                    """
                ).run()
            }
            reservation.state = state
            return reservation
        }
        return reservation
    }

    /// Writes `inventory.low_stock` when the change crosses the product's threshold (read
    /// here unless given); whether it did.
    private func lowStockIfCrossed(
        _ productID: Int64,
        before: Int,
        after: Int,
        threshold known: Int? = nil,
        at now: Date,
        in sql: any SQLDatabase
    ) async throws -> Bool {
        var threshold = known
        if threshold == nil {
            threshold = try await sql.raw("SELECT low_stock_threshold FROM products WHERE id = \(bind: productID)")
                .first(decodingColumn: "low_stock_threshold", as: Int.self)
        }
        guard let threshold, ReservationRules.crossesLowStock(before: before, after: after, threshold: threshold) else { return false }
        try await outbox.append(InventoryLowStock(productID: productID, available: after, threshold: threshold), at: now, in: sql)
        return true
    }

    private static func level(_ productID: Int64, in sql: any SQLDatabase) async throws -> StockLevel? {
        try await sql.raw("SELECT on_hand, reserved FROM inventory WHERE product_id = \(bind: productID)").first().map { row in
            StockLevel(onHand: try row.decode(column: "on_hand", as: Int.self), reserved: try row.decode(column: "reserved", as: Int.self))
        }
    }

    private static func reservation(_ id: String, in sql: any SQLDatabase) async throws -> Reservation? {
        guard let row = try await sql.raw("SELECT state, expires_at FROM reservations WHERE id = \(bind: id)").first() else { return nil }
        let lines = try await sql.raw(
            "SELECT product_id, quantity FROM reservation_lines WHERE reservation_id = \(bind: id) ORDER BY product_id"
        ).all().map {
            ReservationLine(productID: try $0.decode(column: "product_id", as: Int64.self), quantity: try $0.decode(column: "quantity", as: Int.self))
        }
        return Reservation(
            id: id,
            lines: lines,
            state: Reservation.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .held,
            expiresAt: Date(microsecondsSince1970: try row.decode(column: "expires_at", as: Int64.self))
        )
    }

    private static func record(
        _ productID: Int64,
        onHand: Int,
        reserved: Int,
        reason: String,
        reference: String?,
        at now: Date,
        in sql: any SQLDatabase
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO inventory_ledger (product_id, on_hand_change, reserved_change, reason, reference, created_at)
            VALUES (\(bind: productID), \(bind: onHand), \(bind: reserved), \(bind: reason), \(bind: reference), \(bind: now.microsecondsSince1970))
            """
        ).run()
    }
}
