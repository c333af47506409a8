import Foundation
import Platform
import SQLKit

/// Carts and their lines in SQL: one implementation for SQLite and PostgreSQL. A cart's
/// row is locked while it changes, so racing edits and merges apply one after the other.
struct CartStore: Sendable {
    let database: any Database

    /// A new guest cart holding `lines` (checked by the caller), written in one transaction;
    /// answers it with its token, which only this answer carries.
    func createGuest(lines: [Cart.Line] = [], at now: Date) async throws -> (Cart, CartToken) {
        let id = CartRules.newID()
        let token = CartToken.make(for: id)
        let micros = now.microsecondsSince1970
        try await database.transaction { sql in
            try await sql.raw(
                """
                INSERT INTO carts (id, customer_id, token_hash, state, created_at, updated_at)
                VALUES (\(bind: id), NULL, \(bind: token.hash), 'open', \(bind: micros), \(bind: micros))
                """
            ).run()
            // A microsecond apart, so the lines read back in the order they were given.
            for (index, line) in lines.enumerated() {
                try await sql.raw(
                    """
                    INSERT INTO cart_lines (cart_id, product_id, quantity, added_at)
                    VALUES (\(bind: id), \(bind: line.productID), \(bind: line.quantity), \(bind: micros + Int64(index)))
                    """
                ).run()
            }
        }
        return (Cart(id: id, customerID: nil, state: .open, lines: lines, updatedAt: now), token)
    }

    /// The open guest cart `token` opens; `nil` for a wrong, merged or unknown one.
    func guestCart(_ token: CartToken) async throws -> Cart? {
        try await database.read { sql in
            guard
                let row = try await sql.raw(
                    "SELECT token_hash FROM carts WHERE id = \(bind: token.cartID) AND customer_id IS NULL AND state = 'open'"
                ).first(),
                let stored = try row.decode(column: "token_hash", as: String?.self),
                Self.constantTimeEqual(stored, token.hash)
            else { return nil }
            return try await Self.cart(token.cartID, locked: false, in: sql)
        }
    }

    /// Whether `token` opens its cart, whatever the cart's state: a guest reads the orders
    /// of the cart they checked out with it.
    func holds(_ token: CartToken) async throws -> Bool {
        try await database.read { sql in
            guard
                let stored = try await sql.raw("SELECT token_hash FROM carts WHERE id = \(bind: token.cartID) AND customer_id IS NULL")
                    .first(decodingColumn: "token_hash", as: String?.self),
                let hash = stored
            else { return false }
            return Self.constantTimeEqual(hash, token.hash)
        }
    }

    /// The customer's open cart, made when they have none.
    func customerCart(_ customerID: Int64, at now: Date) async throws -> Cart {
        if let cart = try await database.read({ sql in try await Self.openCart(of: customerID, in: sql) }) { return cart }
        do {
            return try await database.transaction { sql in
                if let cart = try await Self.openCart(of: customerID, in: sql) { return cart }
                let id = CartRules.newID()
                let micros = now.microsecondsSince1970
                try await sql.raw(
                    """
                    INSERT INTO carts (id, customer_id, state, created_at, updated_at)
                    VALUES (\(bind: id), \(bind: customerID), 'open', \(bind: micros), \(bind: micros))
                    """
                ).run()
                return Cart(id: id, customerID: customerID, state: .open, lines: [], updatedAt: now)
            }
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            // A racing first read made it.
            guard let cart = try await database.read({ sql in try await Self.openCart(of: customerID, in: sql) }) else { throw error }
            return cart
        }
    }

    /// Sets the quantity of one product (adding the line); refused beyond the line limit.
    func setLine(_ cartID: String, productID: Int64, quantity: Int, at now: Date) async throws -> Cart {
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            guard var cart = try await Self.cart(cartID, locked: true, in: sql), cart.state == .open else { throw CartError.notFound }
            if let orderID = cart.orderID { throw CartError.checkingOut(orderID: orderID) }
            if let index = cart.lines.firstIndex(where: { $0.productID == productID }) {
                cart.lines[index].quantity = quantity
                try await sql.raw(
                    "UPDATE cart_lines SET quantity = \(bind: quantity) WHERE cart_id = \(bind: cartID) AND product_id = \(bind: productID)"
                ).run()
            } else {
                guard cart.lines.count < CartRules.maxLines else { throw CartError.tooManyLines }
                cart.lines.append(Cart.Line(productID: productID, quantity: quantity))
                try await sql.raw(
                    """
                    INSERT INTO cart_lines (cart_id, product_id, quantity, added_at)
                    VALUES (\(bind: cartID), \(bind: productID), \(bind: quantity), \(bind: micros))
                    """
                ).run()
            }
            try await Self.touch(cartID, micros, in: sql)
            cart.updatedAt = now
            return cart
        }
    }

    func removeLine(_ cartID: String, productID: Int64, at now: Date) async throws -> Cart {
        try await database.transaction { sql in
            guard var cart = try await Self.cart(cartID, locked: true, in: sql), cart.state == .open else { throw CartError.notFound }
            if let orderID = cart.orderID { throw CartError.checkingOut(orderID: orderID) }
            try await sql.raw("DELETE FROM cart_lines WHERE cart_id = \(bind: cartID) AND product_id = \(bind: productID)").run()
            cart.lines.removeAll { $0.productID == productID }
            try await Self.touch(cartID, now.microsecondsSince1970, in: sql)
            cart.updatedAt = now
            return cart
        }
    }

    /// Moves the guest cart's lines into the customer's cart and closes the guest cart:
    /// quantities of one product add up, each capped by `cap` (availability and the line
    /// limit); products beyond the cart's line limit are left out. Merging a cart already
    /// merged into this customer's cart answers that cart as it is.
    func merge(guest token: CartToken, into customerID: Int64, cap: @Sendable (Int64, Int) -> Int, at now: Date) async throws -> Cart {
        let target = try await customerCart(customerID, at: now)
        let micros = now.microsecondsSince1970
        return try await database.transaction { sql in
            // The customer's cart first, then the guest's: every merge takes them in this
            // order, so two racing merges never wait on each other in a circle.
            guard var cart = try await Self.cart(target.id, locked: true, in: sql) else { throw CartError.notFound }
            if let orderID = cart.orderID { throw CartError.checkingOut(orderID: orderID) }
            guard
                let row = try await sql.raw(
                    "SELECT token_hash, state, merged_into, order_id FROM carts WHERE id = \(bind: token.cartID) AND customer_id IS NULL\(unsafeRaw: sql.forUpdate)"
                ).first(),
                let stored = try row.decode(column: "token_hash", as: String?.self),
                Self.constantTimeEqual(stored, token.hash)
            else { throw CartError.notFound }
            let state = try row.decode(column: "state", as: String.self)
            if state == Cart.State.merged.rawValue {
                guard try row.decode(column: "merged_into", as: String?.self) == cart.id else { throw CartError.notFound }
                return cart
            }
            guard state == Cart.State.open.rawValue else { throw CartError.notFound }
            if let orderID = try row.decode(column: "order_id", as: String?.self) { throw CartError.checkingOut(orderID: orderID) }
            let guest = try await Self.lines(of: token.cartID, in: sql)
            for line in guest {
                if let index = cart.lines.firstIndex(where: { $0.productID == line.productID }) {
                    let merged = min(cart.lines[index].quantity + line.quantity, cap(line.productID, CartRules.maxQuantity))
                    guard merged != cart.lines[index].quantity else { continue }
                    cart.lines[index].quantity = max(merged, 1)
                    try await sql.raw(
                        "UPDATE cart_lines SET quantity = \(bind: cart.lines[index].quantity) WHERE cart_id = \(bind: cart.id) AND product_id = \(bind: line.productID)"
                    ).run()
                } else if cart.lines.count < CartRules.maxLines {
                    let quantity = max(1, min(line.quantity, cap(line.productID, CartRules.maxQuantity)))
                    cart.lines.append(Cart.Line(productID: line.productID, quantity: quantity))
                    try await sql.raw(
                        """
                        INSERT INTO cart_lines (cart_id, product_id, quantity, added_at)
                        VALUES (\(bind: cart.id), \(bind: line.productID), \(bind: quantity), \(bind: micros))
                        """
                    ).run()
                }
            }
            try await sql.raw(
                "UPDATE carts SET state = 'merged', merged_into = \(bind: cart.id), updated_at = \(bind: micros) WHERE id = \(bind: token.cartID)"
            ).run()
            try await Self.touch(cart.id, micros, in: sql)
            cart.updatedAt = now
            return cart
        }
    }

    /// Deletes guest carts untouched since `cutoff` (and merged ones), at most `limit`.
    @discardableResult
    func purgeGuestCarts(idleSince cutoff: Date, limit: Int = 500) async throws -> Int {
        try await database.transaction { sql in
            let ids = try await sql.raw(
                """
                SELECT id FROM carts WHERE customer_id IS NULL AND updated_at < \(bind: cutoff.microsecondsSince1970)
                ORDER BY updated_at LIMIT \(bind: limit)
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
            for id in ids {
                try await sql.raw("DELETE FROM cart_lines WHERE cart_id = \(bind: id)").run()
                try await sql.raw("DELETE FROM carts WHERE id = \(bind: id)").run()
            }
            return ids.count
        }
    }

    // MARK: Rows

    private static func openCart(of customerID: Int64, in sql: any SQLDatabase) async throws -> Cart? {
        guard
            let id = try await sql.raw("SELECT id FROM carts WHERE customer_id = \(bind: customerID) AND state = 'open'")
                .first(decodingColumn: "id", as: String.self)
        else { return nil }
        return try await cart(id, locked: false, in: sql)
    }

    static func cart(_ id: String, locked: Bool, in sql: any SQLDatabase) async throws -> Cart? {
        guard
            let row = try await sql.raw(
                "SELECT id, customer_id, state, updated_at, order_id FROM carts WHERE id = \(bind: id)\(unsafeRaw: locked ? sql.forUpdate : "")"
            ).first()
        else { return nil }
        return Cart(
            id: try row.decode(column: "id", as: String.self),
            customerID: try row.decode(column: "customer_id", as: Int64?.self),
            state: Cart.State(rawValue: try row.decode(column: "state", as: String.self)) ?? .merged,
            lines: try await lines(of: id, in: sql),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self)),
            orderID: try row.decode(column: "order_id", as: String?.self)
        )
    }

    private static func lines(of cartID: String, in sql: any SQLDatabase) async throws -> [Cart.Line] {
        try await sql.raw("SELECT product_id, quantity FROM cart_lines WHERE cart_id = \(bind: cartID) ORDER BY added_at, product_id").all().map {
            Cart.Line(productID: try $0.decode(column: "product_id", as: Int64.self), quantity: try $0.decode(column: "quantity", as: Int.self))
        }
    }

    private static func touch(_ id: String, _ micros: Int64, in sql: any SQLDatabase) async throws {
        try await sql.raw("UPDATE carts SET updated_at = \(bind: micros) WHERE id = \(bind: id)").run()
    }

    static func constantTimeEqual(_ left: String, _ right: String) -> Bool {
        let a = Array(left.utf8), b = Array(right.utf8)
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
