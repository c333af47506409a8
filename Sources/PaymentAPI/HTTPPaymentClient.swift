public import AsyncHTTPClient
import Foundation
import InternalHTTP
import NIOCore
import NIOHTTP1
public import ServiceContract

/// ``PaymentClient`` over HTTP, for an order service in another process than Payments:
/// the internal payment API, authenticated by the token the services share.
///
/// Every call names the order and carries a key, so retrying one after a timeout is
/// safe: the payment the lost attempt made is answered, never made twice.
public struct HTTPPaymentClient: PaymentClient {
    let transport: InternalHTTPTransport
    /// The breaker every call of this client goes through.
    public var breaker: CircuitBreaker { transport.breaker }

    /// - Parameters:
    ///   - baseURL: the internal listener of a Payments instance, e.g. `http://payments:9090`.
    ///   - token: the `INTERNAL_API_TOKEN` Payments was started with.
    ///   - timeout: longer than Payments' own provider timeout, so its answer arrives.
    public init(
        baseURL: String,
        token: String,
        httpClient: HTTPClient = OutgoingCall.client,
        timeout: TimeAmount = .seconds(15),
        requestID: @escaping @Sendable () -> String? = { RequestIdentifier.current },
        breaker: CircuitBreaker = CircuitBreaker(name: "payments")
    ) {
        transport = InternalHTTPTransport(
            baseURL: baseURL,
            token: token,
            httpClient: httpClient,
            timeout: timeout,
            requestID: requestID,
            breaker: breaker
        )
    }

    public func createPayment(_ payment: NewPayment, idempotencyKey: String) async throws -> PaymentResource {
        let (status, data) = try await call(.POST, "/internal/v1/payments", body: try JSONEncoder().encode(payment), key: idempotencyKey)
        return try Self.decode(PaymentResource.self, status: status, data: data, accepting: [200, 201, 202])
    }

    public func payment(orderID: String) async throws -> PaymentResource? {
        let (status, data) = try await call(.GET, "/internal/v1/payments/by-order/\(InternalHTTPTransport.escaped(orderID))", body: nil, key: nil)
        if status == 404 { return nil }
        return try Self.decode(PaymentResource.self, status: status, data: data, accepting: [200])
    }

    public func refund(orderID: String, amount: Int64?, reason: String, idempotencyKey: String) async throws -> RefundResource {
        let body = try JSONEncoder().encode(RefundRequest(amount: amount, reason: reason))
        let (status, data) = try await call(
            .POST,
            "/internal/v1/payments/by-order/\(InternalHTTPTransport.escaped(orderID))/refunds",
            body: body,
            key: idempotencyKey
        )
        return try Self.decode(RefundResource.self, status: status, data: data, accepting: [200, 201, 202])
    }

    public func cancel(orderID: String) async throws -> PaymentResource {
        let (status, data) = try await call(
            .POST,
            "/internal/v1/payments/by-order/\(InternalHTTPTransport.escaped(orderID))/cancel",
            body: nil,
            key: nil
        )
        return try Self.decode(PaymentResource.self, status: status, data: data, accepting: [200, 202])
    }

    public func closeToCharges(orderID: String, _ closure: ChargeClosure) async throws -> PaymentResource? {
        let (status, data) = try await call(
            .POST,
            "/internal/v1/payments/by-order/\(InternalHTTPTransport.escaped(orderID))/close",
            body: try JSONEncoder().encode(closure),
            key: nil
        )
        if status == 204 { return nil }
        return try Self.decode(PaymentResource.self, status: status, data: data, accepting: [200])
    }

    private func call(_ method: HTTPMethod, _ path: String, body: Data?, key: String?) async throws -> (status: Int, body: Data) {
        try await transport.send(method, path, body: body, headers: key.map { [("Idempotency-Key", $0)] } ?? []) { PaymentError.unavailable($0) }
    }

    /// The resource of a success, or the ``PaymentError`` the error envelope stands for.
    static func decode<Resource: Decodable>(_ type: Resource.Type, status: Int, data: Data, accepting: Set<Int>) throws -> Resource {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        if accepting.contains(status), let envelope = try? decoder.decode(Envelope<Resource>.self, from: data) {
            return envelope.data
        }
        guard let problem = (try? decoder.decode(ErrorBody.self, from: data))?.error else {
            throw PaymentError.unavailable("unexpected answer \(status): \(String(decoding: data.prefix(200), as: UTF8.self))")
        }
        switch problem.code {
        case "PAYMENT_DECLINED":
            throw PaymentError.declined(code: problem.declineCode ?? "card_declined", message: problem.message, paymentID: "")
        case "NOT_FOUND": throw PaymentError.notFound(problem.message)
        case "CONFLICT": throw PaymentError.conflict(problem.message)
        case "VALIDATION_ERROR", "MALFORMED_REQUEST": throw PaymentError.invalid(field: problem.field ?? "", message: problem.message)
        default: throw PaymentError.unavailable("\(problem.code): \(problem.message)")
        }
    }

    struct Envelope<Resource: Decodable>: Decodable {
        let data: Resource
    }

    struct ErrorBody: Decodable {
        struct Problem: Decodable {
            let code: String
            let message: String
            let field: String?
            let declineCode: String?

            enum CodingKeys: String, CodingKey {
                case code, message, field
                case declineCode = "decline_code"
            }
        }

        let error: Problem
    }
}
