import Foundation
import OrderAPI
import PaymentAPI
import Platform
import SQLKit
import ServiceContract

/// What a change of an order leaves besides its row: a line of history when its status
/// moves, an event, and what happens to the cart it came from.
struct OrderEffects: Sendable {
    enum CartAction: Sendable {
        /// The checkout is over without a sale: the cart can be changed and checked out again.
        case unlock
        /// Sold: the cart is closed (the customer's next read makes a new one).
        case close
    }

    enum Event: Sendable {
        case confirmed, cancelled, shipped, delivered, refunded
    }

    var reason: String
    var actorID: Int64? = nil
    /// A line of history even when the status stays (another partial refund).
    var recorded = false
    var event: Event? = nil
    var cart: CartAction? = nil
}

/// The checkout request that placed an order: who asked (`customer:<id>`, or a guest's
/// `cart:<id>`), its `Idempotency-Key`, and a fingerprint of its body.
struct CheckoutRequestKey: Sendable, Hashable {
    var scope: String
    var key: String
    var fingerprint: String

    /// How long a key finds its order, as long as the idempotency middleware replays an
    /// answer (`API.md`: 24 h); after it, the key may place another order.
    static let retention: TimeInterval = 24 * 3600
}

/// Orders, their lines and history in SQL: one implementation for SQLite and PostgreSQL.
/// Every change locks the order's row, checks where it stands and writes the row, its
/// history, its event and its cart in one transaction.
struct OrderStore: Sendable {
    let database: any Database
    let outbox: EventOutbox

    init(database: any Database) {
        self.database = database
        self.outbox = EventOutbox(database: database, source: "/orders")
    }

    /// Writes a new `pending` order with its lines and `order.created`, and marks its cart
    /// as being checked out, all at once.
    /// - Throws: ``OrderError/checkoutInProgress(orderID:)`` when the cart is already being
    ///   checked out; ``CartError/notFound`` when it is no longer open.
    func place(_ order: Order, actorID: Int64?, request: CheckoutRequestKey?, at now: Date) async throws {
        do {
            try await placeOnce(order, actorID: actorID, request: request, at: now)
        } catch  where DatabaseErrors.isUniqueViolation(error) {
            // The key's order may be one past retention, which lets the key go; if not, the
            // key is taken, and the error stands.
            guard let request, try await forgetExpired(request, at: now) else { throw error }
            try await placeOnce(order, actorID: actorID, request: request, at: now)
        }
    }

    /// A transaction that does nothing: on SQLite it commits with, or after, every write
    /// begun before it (one writer, in groups), so what they wrote can then be read.
    func settled() async throws {
        try await database.transaction { _ in }
    }

    private func forgetExpired(_ request: CheckoutRequestKey, at now: Date) async throws -> Bool {
        let before = now.addingTimeInterval(-CheckoutRequestKey.retention).microsecondsSince1970
        return try await database.transaction { sql in
            try await sql.raw(
                """
                UPDATE orders SET request_scope = NULL, request_key = NULL, request_fingerprint = NULL
                WHERE request_scope = \(bind: request.scope) AND request_key = \(bind: request.key) AND created_at < \(bind: before)
                RETURNING id
                """
            ).first() != nil
        }
    }

    private func placeOnce(_ order: Order, actorID: Int64?, request: CheckoutRequestKey?, at now: Date) async throws {
        let micros = now.microsecondsSince1970
        try await database.transaction { sql in
            let taken = try await sql.raw(
                """
                UPDATE carts SET order_id = \(bind: order.id), updated_at = \(bind: micros)
                WHERE id = \(bind: order.cartID) AND state = 'open' AND order_id IS NULL RETURNING id
                """
            ).first()
            if taken == nil {
                let busy = try await sql.raw("SELECT order_id FROM carts WHERE id = \(bind: order.cartID) AND state = 'open'")
                    .first(decodingColumn: "order_id", as: String?.self)
                if let busy, let orderID = busy { throw OrderError.checkoutInProgress(orderID: orderID) }
                throw CartError.notFound
            }
            // The lines priced are the lines sold: a change made meanwhile (another tab)
            // refuses the checkout rather than sell what the customer no longer wants.
            let lines = try await sql.raw("SELECT product_id, quantity FROM cart_lines WHERE cart_id = \(bind: order.cartID)").all().map {
                "\(try $0.decode(column: "product_id", as: Int64.self))x\(try $0.decode(column: "quantity", as: Int.self))"
            }
            guard Set(lines) == Set(order.lines.map { "\($0.productID)x\($0.quantity)" }) else { throw OrderError.cartChanged }
            try await sql.raw(
                """
                INSERT INTO orders (id, status, step, customer_id, cart_id, email, locale, currency, subtotal, total, item_count,
                    shipping_address, lease_until, request_scope, request_key, request_fingerprint, created_at, updated_at)
                VALUES (\(bind: order.id), \(bind: order.status.rawValue), \(bind: order.step.rawValue), \(bind: order.customerID),
                    \(bind: order.cartID), \(bind: order.email), \(bind: order.locale), \(bind: order.currency), \(bind: order.subtotal),
                    \(bind: order.total), \(bind: order.itemCount), \(bind: try Self.json(order.shippingAddress)),
                    \(bind: order.leaseUntil.microsecondsSince1970), \(bind: request?.scope), \(bind: request?.key), \(bind: request?.fingerprint),
                    \(bind: micros), \(bind: micros))
                """
            ).run()
            for (position, line) in order.lines.enumerated() {
                try await sql.raw(
                    """
                    INSERT INTO order_lines (order_id, position, product_id, sku, name, quantity, unit_price, line_total)
                    VALUES (\(bind: order.id), \(bind: position), \(bind: line.productID), \(bind: line.sku), \(bind: line.name),
                        \(bind: line.quantity), \(bind: line.unitPrice.amount), \(bind: line.lineTotal.amount))
                    """
                ).run()
            }
            try await Self.history(order.id, from: nil, to: order.status, actorID: actorID, reason: "checkout", at: micros, in: sql)
            try await outbox.append(OrderCreated(order.eventData(reason: nil)), at: now, in: sql)
        }
        outbox.committed()
    }

    /// Changes the order under its row lock: `change` sees it as it is and mutates it (or
    /// throws, which changes nothing), and answers the effects to record; `nil` effects
    /// leave the order untouched.
    @discardableResult
    func update(_ id: String, at now: Date, _ change: @Sendable (inout Order) throws -> OrderEffects?) async throws -> Order {
        var published = false
        let order = try await database.transaction { sql -> Order in
            guard let before = try await Self.order(id, locked: true, in: sql) else { throw OrderError.notFound }
            var order = before
            guard let effects = try change(&order) else { return before }
            order.updatedAt = now
            let micros = now.microsecondsSince1970
            try await sql.raw(
                """
                UPDATE orders SET status = \(bind: order.status.rawValue), step = \(bind: order.step.rawValue),
                    outcome = \(bind: order.outcome?.rawValue), amount_refunded = \(bind: order.amountRefunded),
                    payment_id = \(bind: order.paymentID), failure_code = \(bind: order.paymentFailure?.code),
                    failure_message = \(bind: order.paymentFailure?.message), next_action_url = \(bind: order.nextActionURL),
                    short_lines = \(bind: order.shortLines.isEmpty ? nil : try Self.json(order.shortLines)),
                    tracking_number = \(bind: order.trackingNumber), carrier = \(bind: order.carrier),
                    stock_committed = \(bind: order.stockCommitted ? 1 : 0), step_reason = \(bind: order.stepReason),
                    lease_until = \(bind: order.leaseUntil.microsecondsSince1970), updated_at = \(bind: micros)
                WHERE id = \(bind: id)
                """
            ).run()
            if order.status != before.status || effects.recorded {
                try await Self.history(
                    id,
                    from: before.status,
                    to: order.status,
                    actorID: effects.actorID,
                    reason: effects.reason,
                    at: micros,
                    in: sql
                )
            }
            switch effects.cart {
            case .unlock?:
                try await sql.raw(
                    "UPDATE carts SET order_id = NULL, updated_at = \(bind: micros) WHERE id = \(bind: order.cartID) AND order_id = \(bind: id)"
                )
                .run()
            case .close?:
                try await sql.raw(
                    "UPDATE carts SET state = 'ordered', updated_at = \(bind: micros) WHERE id = \(bind: order.cartID) AND order_id = \(bind: id)"
                ).run()
            case nil:
                break
            }
            if let event = effects.event {
                let data = order.eventData(reason: effects.reason)
                switch event {
                case .confirmed: try await outbox.append(OrderConfirmed(data), at: now, in: sql)
                case .cancelled: try await outbox.append(OrderCancelled(data), at: now, in: sql)
                case .shipped: try await outbox.append(OrderShipped(data), at: now, in: sql)
                case .delivered: try await outbox.append(OrderDelivered(data), at: now, in: sql)
                case .refunded: try await outbox.append(OrderRefunded(data), at: now, in: sql)
                }
                published = true
            }
            return order
        }
        if published { outbox.committed() }
        return order
    }

    func order(id: String) async throws -> Order? {
        try await database.read { sql in try await Self.order(id, locked: false, in: sql) }
    }

    /// The order placed under the request's caller and `Idempotency-Key` within the
    /// retention, and the fingerprint of the body that placed it.
    func order(placedBy request: CheckoutRequestKey, at now: Date) async throws -> (order: Order, fingerprint: String)? {
        let since = now.addingTimeInterval(-CheckoutRequestKey.retention).microsecondsSince1970
        return try await database.read { sql in
            guard
                let row = try await sql.raw(
                    """
                    SELECT id, request_fingerprint FROM orders
                    WHERE request_scope = \(bind: request.scope) AND request_key = \(bind: request.key) AND created_at >= \(bind: since)
                    """
                ).first(),
                let order = try await Self.order(try row.decode(column: "id", as: String.self), locked: false, in: sql)
            else { return nil }
            return (order, try row.decode(column: "request_fingerprint", as: String?.self) ?? "")
        }
    }

    func history(of id: String) async throws -> [OrderTransition] {
        try await database.read { sql in
            try await sql.raw(
                "SELECT from_status, to_status, actor_id, reason, request_id, at FROM order_history WHERE order_id = \(bind: id) ORDER BY seq"
            ).all().map { row in
                OrderTransition(
                    from: try row.decode(column: "from_status", as: String?.self).flatMap(OrderStatus.init(rawValue:)),
                    to: OrderStatus(rawValue: try row.decode(column: "to_status", as: String.self)) ?? .pending,
                    actorID: try row.decode(column: "actor_id", as: Int64?.self),
                    reason: try row.decode(column: "reason", as: String.self),
                    requestID: try row.decode(column: "request_id", as: String?.self),
                    at: Date(microsecondsSince1970: try row.decode(column: "at", as: Int64.self))
                )
            }
        }
    }

    /// Orders with a step left whose lease ran out by `now`, leased to the caller until
    /// `until` (rows another instance's worker holds are skipped): the recovery worker's work.
    func claimDue(now: Date, until: Date, limit: Int = 10) async throws -> [Order] {
        try await database.transaction { sql in
            let ids = try await sql.raw(
                """
                SELECT id FROM orders WHERE step <> 'done' AND lease_until <= \(bind: now.microsecondsSince1970)
                ORDER BY lease_until LIMIT \(bind: limit)\(unsafeRaw: sql.forUpdateSkipLocked)
                """
            ).all().map { try $0.decode(column: "id", as: String.self) }
            var orders: [Order] = []
            for id in ids {
                try await sql.raw(
                    "UPDATE orders SET lease_until = \(bind: until.microsecondsSince1970), attempts = attempts + 1 WHERE id = \(bind: id)"
                ).run()
                if let order = try await Self.order(id, locked: false, in: sql) { orders.append(order) }
            }
            return orders
        }
    }

    /// Lists orders, newest first by default, filtered by status, customer and creation time.
    func list(
        _ query: ListQuery<OrderSortField>,
        status: OrderStatus?,
        customerID: Int64?,
        createdFrom: Date?,
        createdBefore: Date?
    ) async throws -> ListPage<Order> {
        var filter: SQLQueryString = "1 = 1"
        if let status {
            filter.appendInterpolation(unsafeRaw: " AND status = ")
            filter.appendInterpolation(bind: status.rawValue)
        }
        if let customerID {
            filter.appendInterpolation(unsafeRaw: " AND customer_id = ")
            filter.appendInterpolation(bind: customerID)
        }
        if let createdFrom {
            filter.appendInterpolation(unsafeRaw: " AND created_at >= ")
            filter.appendInterpolation(bind: createdFrom.microsecondsSince1970)
        }
        if let createdBefore {
            filter.appendInterpolation(unsafeRaw: " AND created_at < ")
            filter.appendInterpolation(bind: createdBefore.microsecondsSince1970)
        }
        let list = KeysetList(
            select: "SELECT \(Self.columns) FROM orders",
            count: "SELECT COUNT(*) AS total FROM orders",
            filter: filter,
            keyset: ["seq"],
            descending: query.sort.descending,
            sortParameter: query.sort.parameter,
            decode: { row in try Self.order(from: row, lines: []) },
            cursorValues: { [$0.sequence] }
        )
        let page = try await list.fetch(query.pagination) { try await database.read($0) }
        // The lines of the whole page in one query.
        let ids = page.items.map(\.id)
        guard !ids.isEmpty else { return page }
        let lines = try await database.read { sql in
            try await sql.raw("SELECT * FROM order_lines WHERE order_id IN (\(binds: ids)) ORDER BY order_id, position").all()
        }
        var byOrder: [String: [OrderLineResource]] = [:]
        for row in lines {
            byOrder[try row.decode(column: "order_id", as: String.self), default: []].append(try Self.line(from: row))
        }
        return page.replacingItems(
            with: page.items.map { order in
                var order = order
                order.lines = (byOrder[order.id] ?? []).map { $0.priced(in: order.currency) }
                return order
            }
        )
    }

    // MARK: Rows

    static let columns = """
        seq, id, status, step, outcome, customer_id, cart_id, email, locale, currency, subtotal, total, amount_refunded, item_count,
        shipping_address, payment_id, failure_code, failure_message, next_action_url, short_lines, tracking_number, carrier,
        stock_committed, step_reason, lease_until, attempts, created_at, updated_at
        """

    static func order(_ id: String, locked: Bool, in sql: any SQLDatabase) async throws -> Order? {
        guard
            let row = try await sql.raw("SELECT \(unsafeRaw: columns) FROM orders WHERE id = \(bind: id)\(unsafeRaw: locked ? sql.forUpdate : "")")
                .first()
        else { return nil }
        let lines = try await sql.raw("SELECT * FROM order_lines WHERE order_id = \(bind: id) ORDER BY position").all().map(line(from:))
        return try order(from: row, lines: lines)
    }

    private static func order(from row: any SQLRow, lines: [OrderLineResource]) throws -> Order {
        let failureCode = try row.decode(column: "failure_code", as: String?.self)
        let currency = try row.decode(column: "currency", as: String.self)
        return Order(
            id: try row.decode(column: "id", as: String.self),
            status: OrderStatus(rawValue: try row.decode(column: "status", as: String.self)) ?? .pending,
            step: SagaStep(rawValue: try row.decode(column: "step", as: String.self)) ?? .done,
            outcome: try row.decode(column: "outcome", as: String?.self).flatMap(OrderStatus.init(rawValue:)),
            customerID: try row.decode(column: "customer_id", as: Int64?.self),
            cartID: try row.decode(column: "cart_id", as: String.self),
            email: try row.decode(column: "email", as: String.self),
            locale: try row.decode(column: "locale", as: String.self),
            currency: currency,
            subtotal: try row.decode(column: "subtotal", as: Int64.self),
            total: try row.decode(column: "total", as: Int64.self),
            amountRefunded: try row.decode(column: "amount_refunded", as: Int64.self),
            itemCount: try row.decode(column: "item_count", as: Int.self),
            shippingAddress: try JSONTapeDecoder.decode(
                ShippingAddress.self,
                from: Data(try row.decode(column: "shipping_address", as: String.self).utf8)
            ),
            paymentID: try row.decode(column: "payment_id", as: String?.self),
            paymentFailure: try failureCode.map {
                PaymentFailure(code: $0, message: try row.decode(column: "failure_message", as: String?.self) ?? "")
            },
            nextActionURL: try row.decode(column: "next_action_url", as: String?.self),
            shortLines: try row.decode(column: "short_lines", as: String?.self).map {
                try JSONTapeDecoder.decode([ShortLine].self, from: Data($0.utf8))
            }
                ?? [],
            trackingNumber: try row.decode(column: "tracking_number", as: String?.self),
            carrier: try row.decode(column: "carrier", as: String?.self),
            stockCommitted: try row.decode(column: "stock_committed", as: Int.self) != 0,
            stepReason: try row.decode(column: "step_reason", as: String?.self),
            leaseUntil: Date(microsecondsSince1970: try row.decode(column: "lease_until", as: Int64.self)),
            attempts: try row.decode(column: "attempts", as: Int.self),
            lines: lines.map { $0.priced(in: currency) },
            sequence: try row.decode(column: "seq", as: Int64.self),
            createdAt: Date(microsecondsSince1970: try row.decode(column: "created_at", as: Int64.self)),
            updatedAt: Date(microsecondsSince1970: try row.decode(column: "updated_at", as: Int64.self))
        )
    }

    /// A line as stored; its amounts take the order's currency (``OrderLineResource/priced(in:)``).
    private static func line(from row: any SQLRow) throws -> OrderLineResource {
        let currency = ""
        return OrderLineResource(
            productID: try row.decode(column: "product_id", as: Int64.self),
            sku: try row.decode(column: "sku", as: String.self),
            name: try row.decode(column: "name", as: String.self),
            quantity: try row.decode(column: "quantity", as: Int.self),
            unitPrice: Amount(amount: try row.decode(column: "unit_price", as: Int64.self), currency: currency),
            lineTotal: Amount(amount: try row.decode(column: "line_total", as: Int64.self), currency: currency)
        )
    }

    private static func history(
        _ id: String,
        from: OrderStatus?,
        to: OrderStatus,
        actorID: Int64?,
        reason: String,
        at micros: Int64,
        in sql: any SQLDatabase
    ) async throws {
        try await sql.raw(
            """
            INSERT INTO order_history (order_id, from_status, to_status, actor_id, reason, request_id, at)
            VALUES (\(bind: id), \(bind: from?.rawValue), \(bind: to.rawValue), \(bind: actorID), \(bind: reason),
                \(bind: RequestIdentifier.current), \(bind: micros))
            """
        ).run()
    }

    private static func json<Value: Encodable>(_ value: Value) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}

extension OrderLineResource {
    func priced(in currency: String) -> OrderLineResource {
        var line = self
        line.unitPrice.currency = currency
        line.lineTotal.currency = currency
        return line
    }
}

enum OrderSortField: String, SortField {
    case createdAt = "created_at"
}
