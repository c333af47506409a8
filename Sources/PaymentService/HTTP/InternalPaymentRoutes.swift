import Foundation
import Hummingbird
import PaymentAPI
import Platform

/// `/internal/v1/payments`: checkout's calls for an order service in another process
/// (``HTTPPaymentClient``), open only to callers with the service token. Not routed by
/// the public gateway.
struct InternalPaymentRoutes: Sendable {
    let client: LocalPaymentClient
    let token: String

    func add(to router: Router<ShopRequestContext>) {
        let payments = router.group("/internal/v1/payments").add(middleware: ServiceTokenMiddleware(token: token))
        payments.post(use: create)
        payments.get("by-order/{order_id}", use: show)
        payments.post("by-order/{order_id}/refunds", use: refund)
        payments.post("by-order/{order_id}/cancel", use: cancel)
        payments.post("by-order/{order_id}/close", use: close)
    }

    static let noStore: HTTPFields = [.cacheControl: "no-store"]

    @Sendable func create(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let key = try Self.key(request)
        let body = try await JSONBody.decode(NewPayment.self, from: request)
        let charge = try Payments.validated(body, now: Date())
        let payment = try await client.payments.create(charge, idempotencyKey: key)
        let status = try ChargeAnswer.status(of: payment, created: true)
        return try JSONResponse.success(try await client.payments.store.resource(of: payment), status: status, headers: Self.noStore)
    }

    @Sendable func show(_ request: Request, context: ShopRequestContext) async throws -> Response {
        guard let payment = try await client.payment(orderID: try Self.orderID(context)) else { throw APIError.notFound("Payment") }
        return try JSONResponse.success(payment, headers: Self.noStore)
    }

    @Sendable func refund(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let key = try Self.key(request)
        let body = try await JSONBody.decode(RefundRequest.self, from: request)
        let (amount, reason) = try PaymentRoutes.validated(body)
        let refund = try await client.refund(orderID: try Self.orderID(context), amount: amount, reason: reason, idempotencyKey: key)
        return try PaymentRoutes.answer(refund)
    }

    @Sendable func cancel(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let payment = try await client.cancel(orderID: try Self.orderID(context))
        return try JSONResponse.success(payment, headers: Self.noStore)
    }

    @Sendable func close(_ request: Request, context: ShopRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(ChargeClosure.self, from: request)
        guard let payment = try await client.closeToCharges(orderID: try Self.orderID(context), body) else {
            return Response(status: .noContent, headers: Self.noStore)
        }
        return try JSONResponse.success(payment, headers: Self.noStore)
    }

    private static func key(_ request: Request) throws(APIError) -> String {
        guard let key = request.headers[.idempotencyKey] else {
            throw .validation("Is required: a payment is never made without one", field: "Idempotency-Key")
        }
        guard PaymentRules.isKey(key, max: 255) else { throw .validation("Must be 1 to 255 visible ASCII characters", field: "Idempotency-Key") }
        return key
    }

    private static func orderID(_ context: ShopRequestContext) throws(APIError) -> String {
        guard let raw = context.parameters.get("order_id")?.removingPercentEncoding, PaymentRules.isKey(raw) else {
            throw .validation("Must be 1 to 128 visible ASCII characters", field: "order_id")
        }
        return raw
    }
}

/// ``PaymentClient`` by direct calls, for the order service in the same process (and
/// behind the internal routes).
struct LocalPaymentClient: PaymentClient {
    let payments: Payments

    func createPayment(_ payment: NewPayment, idempotencyKey: String) async throws -> PaymentResource {
        guard PaymentRules.isKey(idempotencyKey, max: 255) else {
            throw PaymentError.invalid(field: "Idempotency-Key", message: "Must be 1 to 255 visible ASCII characters")
        }
        let charge: Payments.Charge
        do {
            charge = try Payments.validated(payment, now: Date())
        } catch let error as APIError {
            throw PaymentError.invalid(field: error.main.field ?? "payment", message: error.main.message)
        }
        let created = try await payments.create(charge, idempotencyKey: idempotencyKey)
        _ = try ChargeAnswer.status(of: created, created: true)
        return try await payments.store.resource(of: created)
    }

    func payment(orderID: String) async throws -> PaymentResource? {
        guard let payment = try await payments.store.payment(orderID: orderID) else { return nil }
        return try await payments.store.resource(of: payment)
    }

    func refund(orderID: String, amount: Int64?, reason: String, idempotencyKey: String) async throws -> RefundResource {
        guard let payment = try await payments.store.payment(orderID: orderID) else { throw PaymentError.notFound("Payment of order \(orderID)") }
        return try await payments.refund(payment.id, amount: amount, reason: reason, idempotencyKey: idempotencyKey)
    }

    func cancel(orderID: String) async throws -> PaymentResource {
        guard let payment = try await payments.store.payment(orderID: orderID) else { throw PaymentError.notFound("Payment of order \(orderID)") }
        return try await payments.store.resource(of: try await payments.cancel(payment.id))
    }

    func closeToCharges(orderID: String, _ closure: ChargeClosure) async throws -> PaymentResource? {
        let checked: PaymentStore.Closure
        do {
            checked = try Payments.validated(closure, orderID: orderID, provider: payments.provider.name)
        } catch let error as APIError {
            throw PaymentError.invalid(field: error.main.field ?? "closure", message: error.main.message)
        }
        guard let payment = try await payments.store.close(checked, at: Date()) else { return nil }
        return try await payments.store.resource(of: payment)
    }
}
