import Hummingbird
import PaymentAPI
import Platform

extension PaymentError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .declined(let code, let message, _):
            APIError([Problem(.paymentDeclined, message, field: "payment_method", declineCode: code)])
        case .notFound(let what): .notFound(what)
        case .conflict(let message): APIError(.conflict, message)
        case .invalid(let field, let message): .validation(message, field: field)
        case .unavailable(let message): APIError(.upstreamUnavailable, "The payment provider is unavailable: \(message)")
        }
    }
}

extension ProviderError: APIErrorConvertible {
    public var apiError: APIError {
        switch self {
        case .unavailable: APIError(.upstreamUnavailable, "The payment provider did not answer; the outcome is settled later")
        case .rejected(_, let message): APIError(.conflict, "The payment provider refused: \(message)")
        case .notSent(let message): APIError(.upstreamUnavailable, "The payment provider is unavailable: \(message)")
        case .unsignedNotice(let message): APIError(.unauthenticated, "The webhook is not signed by the provider: \(message)")
        case .invalidNotice(let message): .malformed(message)
        }
    }
}

extension Payment {
    /// The payment's id from a path, or `NOT_FOUND`: ids are `pay_` and 24 hex digits.
    static func id(_ context: ShopRequestContext) throws(APIError) -> String {
        guard let raw = context.parameters.get("id"), isID(raw) else { throw .notFound("Payment") }
        return raw
    }

    static func isID(_ raw: String) -> Bool {
        RandomID.isValid(raw, prefix: "pay")
    }
}

/// Answers for a payment that was asked to be charged: declined is `402 PAYMENT_DECLINED`
/// with the provider's code; still waiting on the provider is `202` with the payment.
enum ChargeAnswer {
    static func status(of payment: Payment, created: Bool) throws(PaymentError) -> HTTPResponse.Status {
        switch payment.status {
        case .failed:
            let failure = payment.failure ?? PaymentFailure(code: "card_declined", message: "The card was declined")
            throw .declined(code: failure.code, message: failure.message, paymentID: payment.id)
        case .processing, .requiresAction: return .accepted
        default: return created ? .created : .ok
        }
    }
}
