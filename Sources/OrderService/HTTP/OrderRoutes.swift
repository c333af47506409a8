import Crypto
import Foundation
import Hummingbird
import OrderAPI
import PaymentAPI
import Platform

/// `/api/v1/orders`: checkout (a customer's cart, or a guest's by `X-Cart-Token`), reads
/// (customers their own, staff all; a guest the order of their cart token), and what
/// happens after: cancel, ship, deliver, refund.
struct OrderRoutes: Sendable {
    let checkout: Checkout
    let actions: OrderActions
    /// Every POST but checkout's.
    let idempotency: IdempotencyMiddleware

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]

    func add(to group: RouterGroup<ShopRequestContext>) {
        // Checkout keeps its Idempotency-Key on the order it places, not in the stored
        // answers of every other POST (see `create`).
        group.group("orders").post(use: create)
        let orders = group.group("orders").add(middleware: idempotency)
        orders.get("{id}", use: show)
        orders.restricted(to: .authenticated).get(use: list)
        orders.restricted(to: .authenticated).post("{id}/cancel", use: cancel)
        let staff = orders.restricted(to: .roles(.staff, .admin))
        staff.post("{id}/ship", use: ship)
        staff.post("{id}/deliver", use: deliver)
        staff.post("{id}/refunds", use: refund)
    }

    /// Checkout. Its `Idempotency-Key` is kept on the order it places, in the same write:
    /// a retry (after a timeout, or of a request whose process died) is answered the order
    /// that key placed as it stands now, with `Idempotent-Replayed: true`: confirmed once
    /// the payment that was waiting completed, never a stored `202` gone stale. Another
    /// body under the key is `CONFLICT`. A request refused before it placed an order
    /// (invalid, an empty cart) placed nothing, so nothing is kept: its retry is checked
    /// again.
    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        // Required: a retry after a timeout must find the first attempt's order, never
        // place (and charge) a second one.
        guard let key = request.headers[.idempotencyKey] else {
            throw APIError.validation("Is required: an order is never placed without one", field: "Idempotency-Key")
        }
        try IdempotencyMiddleware.check(key: key)
        let bytes = try await JSONBody.bytes(of: request)
        let body = try JSONBody.decode(CheckoutRequest.self, from: Data(buffer: bytes))
        let principal = context.principal
        var validation = Validation()
        let address = validation.required("shipping_address", body.shippingAddress) { (address: ShippingAddress) throws(InvalidValue) in
            try Self.validated(address)
        }
        let email = validation.optional("email", body.email) { (raw: String) throws(InvalidValue) in try EmailAddress(raw).value }
        if principal == nil && body.email == nil { validation.missing("email") }
        let locale = validation.optional("locale", body.locale) { (raw: String) throws(InvalidValue) in
            guard Self.isLocale(raw) else { throw InvalidValue("Must be a language tag like en or pt-BR") }
            return raw
        }
        let method = validation.required("payment_method", body.paymentMethod) { (method: PaymentMethodBody) throws(InvalidValue) in
            guard (method.card == nil) != (method.token == nil) else { throw InvalidValue("Must hold either a card or a token") }
            return method
        }
        let (shipping, paying) = try validation.check(address, method)
        let placing = try Self.requestKey(request, context: context, key: key, body: bytes)
        // A retry answers the order its key placed; it never checks the cart out again.
        if let placed = try await order(placedBy: placing, request: request) { return try await replay(placed, request: request) }
        let order: Order
        do {
            let cart = try await CartRoutes(carts: checkout.carts).cart(for: request, context: context)
            let details = Checkout.Details(
                customerID: principal?.userID,
                email: email,
                locale: locale ?? "en",
                address: shipping,
                paymentMethod: paying,
                request: placing
            )
            order = try await checkout.place(cart, details)
        } catch  where Self.mayBeARace(error) {
            // The first attempt of this request placed its order meanwhile (its key, or the
            // cart, is taken; the cart was sold): that order is the answer. On SQLite its
            // write may still be in the commit group this attempt's write joined; on
            // PostgreSQL the cart's row lock waited for it already.
            try await checkout.store.settled()
            guard let placed = try await self.order(placedBy: placing, request: request) else { throw error }
            return try await replay(placed, request: request)
        }
        return try await outcome(order, request: request)
    }

    /// The answer to a checkout: 201 confirmed, 202 waiting on the payment, or the error
    /// that ended it.
    private func outcome(_ order: Order, request: Request) async throws -> Response {
        switch order.status {
        case .confirmed, .shipped, .delivered, .refunded, .partiallyRefunded:
            // Sold (and perhaps more since, when a retry finds it later).
            return try await answer(order, status: .created, request: request)
        case .paymentFailed:
            let failure = order.paymentFailure ?? PaymentFailure(code: "payment_failed", message: "The payment was not completed")
            throw OrderError.declined(orderID: order.id, code: failure.code, message: failure.message)
        case .cancelled where !order.shortLines.isEmpty:
            throw OrderError.outOfStock(orderID: order.id, lines: order.shortLines)
        case .cancelled:
            throw OrderError.checkoutEnded(orderID: order.id, reason: order.stepReason ?? "checkout ended without a sale")
        default:
            // Waiting on the payment (3-D Secure, or an answer Payments does not have yet).
            return try await answer(order, status: .accepted, request: request)
        }
    }

    /// Whether a checkout's failure may be a second attempt of one request losing to its
    /// first: the key's unique index taken, the cart being checked out, changed, emptied or
    /// closed by the sale. All are thrown before this attempt writes an order.
    private static func mayBeARace(_ error: any Error) -> Bool {
        switch error {
        case OrderError.checkoutInProgress, OrderError.emptyCart, OrderError.cartChanged, CartError.notFound: true
        default: DatabaseErrors.isUniqueViolation(error)
        }
    }

    /// The answer to a retry: the order an earlier attempt with its key placed, as it stands,
    /// marked replayed, its error (a decline, a shortage) included.
    private func replay(_ placed: Order, request: Request) async throws -> Response {
        do {
            var response = try await outcome(placed, request: request)
            response.headers[IdempotencyMiddleware.replayedHeader] = "true"
            return response
        } catch let error as any APIErrorConvertible {
            var replayed = error.apiError
            replayed.headers[IdempotencyMiddleware.replayedHeader] = "true"
            throw replayed
        }
    }

    /// The order placed by an earlier attempt of this request, when the caller may see it:
    /// a customer's own, or a guest's whose cart token they hold. Another body under the same
    /// key is a conflict, as the idempotency middleware answers it.
    private func order(placedBy placing: CheckoutRequestKey?, request: Request) async throws -> Order? {
        guard let placing, let (placed, fingerprint) = try await checkout.store.order(placedBy: placing, at: checkout.now()) else { return nil }
        if placed.customerID == nil {
            guard let presented = try CartRoutes.presentedToken(request), let token = CartToken(presented: presented),
                token.cartID == placed.cartID, try await checkout.carts.store.holds(token)
            else { return nil }
        }
        guard fingerprint == placing.fingerprint else {
            throw APIError(.conflict, "This Idempotency-Key was used with a different request", field: "Idempotency-Key")
        }
        return placed
    }

    /// The checkout request as its order keeps it: the caller (a customer, or a guest's
    /// cart: never an address), the key, and a fingerprint of the body.
    static func requestKey(_ request: Request, context: ShopRequestContext, key: String, body: ByteBuffer) throws -> CheckoutRequestKey? {
        let caller: String
        if let principal = context.principal {
            caller = "customer:\(principal.userID)"
        } else if let presented = try CartRoutes.presentedToken(request), let token = CartToken(presented: presented) {
            caller = "cart:\(token.cartID)"
        } else {
            return nil
        }
        return CheckoutRequestKey(scope: caller, key: key, fingerprint: Hexadecimal.encode(SHA256.hash(data: body.readableBytesView)))
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let order = try await readable(request, context: context)
        return try await answer(order, status: .ok, request: request)
    }

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let query = try ListQuery<OrderSortField>.parse(
            request.uri,
            filters: ["status", "customer_id", "created_from", "created_before"],
            defaultSort: SortOrder(.createdAt, descending: true)
        )
        var validation = Validation()
        let status = validation.optional("status", query.filters["status"]) { (raw: String) throws(InvalidValue) in
            guard let status = OrderStatus(rawValue: raw) else {
                throw InvalidValue("Must be one of \(OrderStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return status
        }
        var customerID = validation.optional("customer_id", query.filters["customer_id"]) { (raw: String) throws(InvalidValue) in
            guard let id = Int64(raw), id > 0 else { throw InvalidValue("Must be a positive integer id") }
            return id
        }
        let from = validation.optional("created_from", query.filters["created_from"], Self.timestamp)
        let before = validation.optional("created_before", query.filters["created_before"], Self.timestamp)
        try validation.check()
        // A customer sees their own orders, whatever they ask for.
        if principal.role == .customer { customerID = principal.userID }
        let page = try await checkout.store.list(query, status: status, customerID: customerID, createdFrom: from, createdBefore: before)
        // Lists leave the history out: it is on each order's own page.
        return try page.response(for: request.uri, headers: Self.privateCache) { $0.resource(history: []) }
    }

    @Sendable func cancel(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let order = try await readable(request, context: context)
        let body: CancelRequest? = request.headers[.contentType] == nil ? nil : try await JSONBody.decode(CancelRequest.self, from: request)
        var validation = Validation()
        let reason = validation.optional("reason", body?.reason, Self.reason)
        try validation.check()
        let byStaff = principal.role != .customer
        let cancelled = try await actions.cancel(
            order.id,
            reason: reason ?? (byStaff ? "cancelled by staff" : "cancelled by the customer"),
            by: principal.userID
        )
        return try await answer(cancelled, status: .ok, request: request)
    }

    @Sendable func ship(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        let body = try await JSONBody.decode(ShipRequest.self, from: request)
        var validation = Validation()
        let tracking = validation.required("tracking_number", body.trackingNumber) { (raw: String) throws(InvalidValue) in
            let trimmed = raw.trimmingWhitespace()
            try TextBounds.checkLine(trimmed, characters: 1...100)
            return trimmed
        }
        let carrier = validation.optional("carrier", body.carrier) { (raw: String) throws(InvalidValue) in
            let trimmed = raw.trimmingWhitespace()
            try TextBounds.checkLine(trimmed, characters: 1...100)
            return trimmed
        }
        let (number) = try validation.check(tracking)
        let order = try await actions.ship(id, trackingNumber: number, carrier: carrier, by: principal.userID)
        return try await answer(order, status: .ok, request: request)
    }

    @Sendable func deliver(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let order = try await actions.deliver(try Self.id(context), by: principal.userID)
        return try await answer(order, status: .ok, request: request)
    }

    @Sendable func refund(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Self.id(context)
        guard let key = request.headers[.idempotencyKey] else {
            throw APIError.validation("Is required: a refund is never made without one", field: "Idempotency-Key")
        }
        let body = try await JSONBody.decode(RefundRequest.self, from: request)
        var validation = Validation()
        let amount = validation.optional("amount", body.amount) { (amount: Int64) throws(InvalidValue) in
            guard amount > 0 else { throw InvalidValue("Must be a positive amount in minor units") }
            return amount
        }
        let reason = validation.required("reason", body.reason, Self.reason)
        let (text) = try validation.check(reason)
        let order = try await actions.refund(id, amount: amount, reason: text, key: key, by: principal.userID)
        return try await answer(order, status: .ok, request: request)
    }

    // MARK: Helpers

    /// The order of the path, if the caller may read it: staff any; a customer their own;
    /// a guest the order of the cart their token opens. Any other reads as not found.
    private func readable(_ request: Request, context: ShopRequestContext) async throws -> Order {
        let id = try Self.id(context)
        // As on the cart routes: a signed-in caller's token is not used, but is not let
        // through malformed either.
        let presented = try CartRoutes.presentedToken(request)
        guard let order = try await checkout.store.order(id: id) else { throw OrderError.notFound }
        if let principal = context.principal {
            guard principal.role != .customer || order.customerID == principal.userID else { throw OrderError.notFound }
            return order
        }
        guard order.customerID == nil, let presented, let token = CartToken(presented: presented),
            token.cartID == order.cartID, try await checkout.carts.store.holds(token)
        else {
            throw APIError.authenticationRequired
        }
        return order
    }

    private func answer(_ order: Order, status: HTTPResponse.Status, request: Request) async throws -> Response {
        var headers = Self.privateCache
        headers[.location] = "/api/v1/orders/\(order.id)"
        return try JSONResponse.success(order.resource(history: try await checkout.store.history(of: order.id)), status: status, headers: headers)
    }

    static func id(_ context: ShopRequestContext) throws(APIError) -> String {
        guard let raw = context.parameters.get("id"), OrderRules.isID(raw) else { throw APIError.notFound("Order") }
        return raw
    }

    static func validated(_ address: ShippingAddress) throws(InvalidValue) -> ShippingAddress {
        func text(_ name: String, _ value: String?, _ bounds: ClosedRange<Int>, required: Bool = true) throws(InvalidValue) -> String? {
            guard let value else {
                if required { throw InvalidValue("\(name) is required") }
                return nil
            }
            let trimmed = value.trimmingWhitespace()
            do {
                try TextBounds.checkLine(trimmed, characters: bounds)
            } catch {
                throw InvalidValue("\(name): \(error.reason)")
            }
            return trimmed
        }
        guard let country = address.country, country.utf8.count == 2,
            country.utf8.allSatisfy({ (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains($0) })
        else { throw InvalidValue("country must be an ISO 3166-1 alpha-2 code like DE") }
        return ShippingAddress(
            name: try text("name", address.name, 1...200) ?? "",
            line1: try text("line1", address.line1, 1...200) ?? "",
            line2: try text("line2", address.line2, 1...200, required: false),
            city: try text("city", address.city, 1...100) ?? "",
            region: try text("region", address.region, 1...100, required: false),
            postalCode: try text("postal_code", address.postalCode, 1...20) ?? "",
            country: country,
            phone: try text("phone", address.phone, 1...32, required: false)
        )
    }

    static func isLocale(_ raw: String) -> Bool {
        let parts = raw.split(separator: "-", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count), let language = parts.first, (2...3).contains(language.count),
            language.allSatisfy({ $0.isASCII && $0.isLowercase })
        else { return false }
        return parts.dropFirst().allSatisfy { (2...8).contains($0.count) && $0.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) } }
    }

    static func reason(_ raw: String) throws(InvalidValue) -> String {
        let trimmed = raw.trimmingWhitespace()
        try TextBounds.checkLine(trimmed, characters: 1...500, newlines: true)
        return trimmed
    }

    static func timestamp(_ raw: String) throws(InvalidValue) -> Date {
        guard raw.utf8.count <= 40, let date = try? Date(raw, strategy: .iso8601) else {
            throw InvalidValue("Must be a time in RFC 3339, like 2026-12-01T00:00:00Z")
        }
        return date
    }
}

extension OrderError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .notFound: .notFound("Order")
        case .emptyCart: APIError(.conflict, "The cart is empty")
        case .checkoutInProgress(let id): APIError(.conflict, "The cart is being checked out as order \(id)")
        case .notForSale(let product, let reason): APIError(.conflict, "Product \(product) \(reason)")
        case .outOfStock(let id, let lines):
            APIError(
                (lines.isEmpty ? [ShortLine(productID: 0, requested: 0, available: 0)] : lines).map { line in
                    Problem(
                        .outOfStock,
                        line.productID == 0
                            ? "Order \(id) was cancelled: not enough stock"
                            : "Order \(id) was cancelled: product \(line.productID) has \(line.available) available, \(line.requested) wanted",
                        field: nil
                    )
                }
            )
        case .declined(let id, let code, let message):
            APIError([Problem(.paymentDeclined, "Order \(id): \(message)", declineCode: code)])
        case .illegalTransition(let id, let status, let action): APIError(.conflict, "Order \(id) is \(status.rawValue); it cannot be \(action) now")
        case .refundTooLarge(let refundable):
            APIError([Problem(.conflict, "At most \(refundable) is left to refund", field: "amount")])
        case .emailRequired: APIError.validation("Is required: no address is known for this account", field: "email")
        case .invalidPaymentMethod(let field, let message):
            APIError.validation(message, field: field.hasPrefix("payment_method") ? field : "payment_method.\(field)")
        case .totalOutOfRange(let message): APIError(.conflict, message)
        case .refundRefused(let message): APIError(.conflict, message)
        case .cartChanged: APIError(.conflict, "The cart changed during checkout; check it and try again")
        case .checkoutEnded(let id, let reason): APIError(.conflict, "Order \(id) was cancelled: \(reason)")
        }
    }
}
