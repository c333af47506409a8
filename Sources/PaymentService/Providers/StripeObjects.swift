import PaymentAPI

// The members of Stripe's objects the adapter reads, as API version 2024-06-20 sends them.
// Only what is read is declared: Stripe adds members without a new version.

/// A member Stripe sends as an id, or as the object itself when the request asked to
/// `expand[]` it.
enum StripeExpandable<Object: Decodable>: Decodable {
    case id(String)
    case object(Object)

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let id = try? container.decode(String.self) {
            self = .id(id)
        } else {
            self = .object(try container.decode(Object.self))
        }
    }

    var object: Object? {
        if case .object(let object) = self { return object }
        return nil
    }
}

/// `card` of a PaymentMethod, and `payment_method_details.card` of a Charge.
struct StripeCard: Decodable {
    let brand: String
    let last4: String
    let expMonth: Int
    let expYear: Int

    enum CodingKeys: String, CodingKey {
        case brand, last4
        case expMonth = "exp_month"
        case expYear = "exp_year"
    }

    var resource: CardResource { CardResource(brand: brand, last4: last4, expMonth: expMonth, expYear: expYear) }
}

struct StripePaymentMethod: Decodable {
    let card: StripeCard?
}

struct StripeCharge: Decodable {
    struct Details: Decodable {
        let card: StripeCard?
    }

    let paymentMethodDetails: Details?

    enum CodingKeys: String, CodingKey {
        case paymentMethodDetails = "payment_method_details"
    }
}

/// Stripe's error object: the `error` of an error answer, and a PaymentIntent's
/// `last_payment_error`.
struct StripeError: Decodable {
    let type: String?
    let code: String?
    let declineCode: String?
    let message: String?
    let paymentMethod: StripePaymentMethod?

    enum CodingKeys: String, CodingKey {
        case type, code, message
        case declineCode = "decline_code"
        case paymentMethod = "payment_method"
    }

    /// A decline in the card network's words when it gave them (`insufficient_funds`),
    /// else Stripe's (`card_declined`, `expired_card`).
    var failure: PaymentFailure {
        PaymentFailure(code: declineCode ?? code ?? type ?? "card_declined", message: message ?? "The card was declined")
    }
}

/// The body of an answer that is not a 2xx.
struct StripeErrorEnvelope: Decodable {
    private struct Leftover: Decodable {
        let paymentIntent: StripePaymentIntent?

        enum CodingKeys: String, CodingKey {
            case paymentIntent = "payment_intent"
        }
    }

    private enum CodingKeys: String, CodingKey {
        case error
    }

    let error: StripeError
    /// The PaymentIntent a card error left behind (on a 402), read from `error.payment_intent`.
    let paymentIntent: StripePaymentIntent?

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        error = try container.decode(StripeError.self, forKey: .error)
        paymentIntent = try container.decode(Leftover.self, forKey: .error).paymentIntent
    }
}

/// A PaymentIntent.
struct StripePaymentIntent: Decodable {
    struct NextAction: Decodable {
        struct Redirect: Decodable {
            let url: String?
        }

        let redirectToURL: Redirect?

        enum CodingKeys: String, CodingKey {
            case redirectToURL = "redirect_to_url"
        }
    }

    let id: String
    let status: String
    let amount: Int64
    let amountCapturable: Int64?
    let amountReceived: Int64?
    let created: Int64?
    let metadata: [String: String]?
    let paymentMethod: StripeExpandable<StripePaymentMethod>?
    let latestCharge: StripeExpandable<StripeCharge>?
    let lastPaymentError: StripeError?
    let nextAction: NextAction?

    enum CodingKeys: String, CodingKey {
        case id, status, amount, created, metadata
        case amountCapturable = "amount_capturable"
        case amountReceived = "amount_received"
        case paymentMethod = "payment_method"
        case latestCharge = "latest_charge"
        case lastPaymentError = "last_payment_error"
        case nextAction = "next_action"
    }

    /// The intent in our terms; `nil` for a status this adapter does not know.
    ///
    /// A confirm that failed leaves the intent waiting for another payment method with
    /// the reason in `last_payment_error`: that attempt is over, so it is `failed`.
    var providerIntent: ProviderIntent? {
        let status: PaymentStatus
        switch self.status {
        case "requires_payment_method", "requires_confirmation": status = lastPaymentError == nil ? .requiresPaymentMethod : .failed
        case "requires_action": status = .requiresAction
        case "processing": status = .processing
        case "requires_capture": status = .requiresCapture
        case "succeeded": status = .succeeded
        case "canceled": status = .canceled
        default: return nil
        }
        let card =
            latestCharge?.object?.paymentMethodDetails?.card ?? paymentMethod?.object?.card ?? lastPaymentError?.paymentMethod?.card
        return ProviderIntent(
            reference: id,
            idempotencyKey: metadata?[StripeProvider.attemptKeyMetadata],
            status: status,
            amount: amount,
            amountCapturable: amountCapturable ?? 0,
            amountReceived: amountReceived ?? 0,
            card: card?.resource,
            failure: status == .failed ? lastPaymentError?.failure : nil,
            nextActionURL: nextAction?.redirectToURL?.url
        )
    }
}

/// The answer of a PaymentIntent search.
struct StripeSearchResult: Decodable {
    let data: [StripePaymentIntent]
}

/// A Refund.
struct StripeRefund: Decodable {
    let id: String
    let amount: Int64
    let status: String
    let failureReason: String?

    enum CodingKeys: String, CodingKey {
        case id, amount, status
        case failureReason = "failure_reason"
    }

    var providerRefund: ProviderRefund {
        switch status {
        case "succeeded":
            ProviderRefund(reference: id, status: .succeeded, amount: amount)
        case "failed", "canceled":
            ProviderRefund(reference: id, status: .failed, amount: amount, failure: failureReason ?? status)
        default:
            // `pending`, `requires_action`, or a state newer than this adapter: not settled yet.
            ProviderRefund(reference: id, status: .pending, amount: amount)
        }
    }
}
