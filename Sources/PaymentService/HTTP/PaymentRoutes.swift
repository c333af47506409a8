import Foundation
import Hummingbird
import PaymentAPI
import Platform

/// `/api/v1/payments`: staff and admins read, capture, void and refund; a customer reads
/// the payments of their own orders (others' are `404`).
struct PaymentRoutes: Sendable {
    let payments: Payments
    let now: @Sendable () -> Date

    func add(to group: RouterGroup<ShopRequestContext>, idempotency: IdempotencyMiddleware) {
        let readers = group.group("payments").restricted(to: .authenticated)
        readers.get(use: list)
        readers.get("{id}", use: show)
        let staff = group.group("payments").restricted(to: .roles(.staff, .admin)).add(middleware: idempotency)
        staff.post("{id}/capture", use: capture)
        staff.post("{id}/cancel", use: cancel)
        staff.post("{id}/refunds", use: refund)
    }

    static let privateCache: HTTPFields = [.cacheControl: "private, no-store"]

    @Sendable func list(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let query = try ListQuery<PaymentSortField>.parse(
            request.uri,
            filters: ["status", "order_id", "customer_id"],
            defaultSort: SortOrder(.createdAt, descending: true)
        )
        var validation = Validation()
        let status = validation.optional("status", query.filters["status"]) { (raw: String) throws(InvalidValue) in
            guard let status = PaymentStatus(rawValue: raw) else {
                throw InvalidValue("Must be one of \(PaymentStatus.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return status
        }
        let orderID = validation.optional("order_id", query.filters["order_id"]) { (raw: String) throws(InvalidValue) in
            guard PaymentRules.isKey(raw) else { throw InvalidValue("Must be 1 to 128 visible ASCII characters") }
            return raw
        }
        var customerID = validation.optional("customer_id", query.filters["customer_id"]) { (raw: String) throws(InvalidValue) in
            guard let id = Int64(raw), id > 0 else { throw InvalidValue("Must be a positive integer id") }
            return id
        }
        try validation.check()
        // A customer sees their own payments, whatever they ask for.
        if principal.role == .customer { customerID = principal.userID }
        let page = try await payments.store.list(query, status: status, orderID: orderID, customerID: customerID)
        var resources: [PaymentResource] = []
        for payment in page.items { resources.append(try await payments.store.resource(of: payment)) }
        return try page.replacingItems(with: resources).response(for: request.uri, headers: Self.privateCache) { $0 }
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let principal = try context.requirePrincipal()
        let id = try Payment.id(context)
        guard let payment = try await payments.store.payment(id: id), principal.role != .customer || payment.customerID == principal.userID else {
            throw APIError.notFound("Payment")
        }
        return try JSONResponse.success(try await payments.store.resource(of: payment), headers: Self.privateCache)
    }

    struct CaptureBody: JSONRequestBody {
        var amount: Int64?
        enum CodingKeys: String, CodingKey, CaseIterable { case amount }
    }

    @Sendable func capture(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try Payment.id(context)
        // The body is optional: without one, everything capturable is captured.
        let body: CaptureBody? = request.headers[.contentType] == nil ? nil : try await JSONBody.decode(CaptureBody.self, from: request)
        if let amount = body?.amount, amount <= 0 { throw APIError.validation("Must be a positive amount in minor units", field: "amount") }
        let payment = try await payments.capture(id, amount: body?.amount)
        return try JSONResponse.success(
            try await payments.store.resource(of: payment),
            status: payment.pendingAction == nil ? .ok : .accepted,
            headers: Self.privateCache
        )
    }

    @Sendable func cancel(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try Payment.id(context)
        let payment = try await payments.cancel(id)
        return try JSONResponse.success(
            try await payments.store.resource(of: payment),
            status: payment.pendingAction == nil ? .ok : .accepted,
            headers: Self.privateCache
        )
    }

    @Sendable func refund(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let id = try Payment.id(context)
        let body = try await JSONBody.decode(RefundRequest.self, from: request)
        let (amount, reason) = try Self.validated(body)
        // Required: the key makes the refund itself idempotent, so a client retrying after a
        // timeout can never refund twice.
        guard let key = request.headers[.idempotencyKey] else {
            throw APIError.validation("Is required: a refund is never made without one", field: "Idempotency-Key")
        }
        let refund = try await payments.refund(id, amount: amount, reason: reason, idempotencyKey: key)
        return try Self.answer(refund)
    }

    /// A refund as made (201), still with the provider (202), or refused there (409).
    static func answer(_ refund: RefundResource) throws -> Response {
        switch refund.status {
        case .succeeded: return try JSONResponse.success(refund, status: .created, headers: privateCache)
        case .pending: return try JSONResponse.success(refund, status: .accepted, headers: privateCache)
        case .failed: throw PaymentError.conflict("The payment provider refused refund \(refund.id); nothing was refunded")
        }
    }

    static func validated(_ body: RefundRequest) throws(APIError) -> (amount: Int64?, reason: String) {
        var validation = Validation()
        let amount = validation.optional("amount", body.amount) { (amount: Int64) throws(InvalidValue) in
            guard (1...PaymentRules.maxAmount).contains(amount) else { throw InvalidValue("Must be a positive amount in minor units") }
            return amount
        }
        let reason = validation.required("reason", body.reason) { (reason: String) throws(InvalidValue) in
            let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
            try TextBounds.checkLine(trimmed, characters: 1...500, newlines: true)
            return trimmed
        }
        let (text) = try validation.check(reason)
        return (amount, text)
    }
}

/// `POST /api/v1/payments/webhooks/{provider}`: a provider reports that something
/// happened. Checked on the raw bytes before anything is parsed; then the service asks
/// the provider itself, so a forged, replayed, duplicated or late notice changes nothing.
struct WebhookRoutes: Sendable {
    let payments: Payments
    let now: @Sendable () -> Date
    /// A provider's notices are small; anything larger is not one.
    static let maxBytes = 64 * 1024

    func add(to group: RouterGroup<ShopRequestContext>) {
        group.post("payments/webhooks/\(payments.provider.name)", use: receive)
    }

    @Sendable func receive(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: Self.maxBytes)
        } catch {
            throw APIError(.payloadTooLarge, "A webhook is at most \(Self.maxBytes) bytes")
        }
        let body = Array(buffer.readableBytesView)
        let notice = try payments.provider.verifyNotice(signature: request.headers[.stripeSignature], body: body, now: now())
        try await payments.settle(notice)
        return try JSONResponse.success(["received": true])
    }
}
